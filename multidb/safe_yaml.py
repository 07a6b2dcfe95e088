"""Read a config file's YAML with limits a hostile or broken file cannot get past.

``yaml.safe_load`` builds no objects beyond plain data, but it still follows aliases, and a file of
a few hundred bytes whose anchors nest ("billion laughs") stands for 10**9 values: whatever walks
them afterwards never ends. It also recurses once per level of nesting, so a file of 10,000 ``[``
ends in a RecursionError, and it keeps the last of two equal keys without a word, so a second
``url:`` in an entry silently wins. :class:`Loader` refuses each of these while it composes the
document, before anything is built:

* a node standing for more than :data:`MAX_VALUES` values once every alias is expanded;
* nesting deeper than :data:`MAX_DEPTH` levels, aliases followed (a real config has about 6);
* an alias that refers to a node containing it;
* the same key twice in one mapping (a merge key ``<<`` may still be overridden: that is its use).

A refusal is a :class:`Refused` naming where: the key path of the mapping, or a line and column.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

MAX_VALUES = 250_000  # a real config holds some thousands at most (a fleet listing its tenants)
MAX_DEPTH = 50
_MERGE = "tag:yaml.org,2002:merge"
_EXPANDED = "once its YAML aliases are expanded"


class Refused(Exception):
    """The document is refused: ``where`` (a key path or ``line L, column C``) and what is wrong."""

    def __init__(self, where: str, problem: str):
        self.where = where
        self.problem = problem
        super().__init__(f"{where}: {problem}")


class Loader(yaml.SafeLoader):
    """A SafeLoader that measures every node as it is composed (see the module's docstring)."""

    def __init__(self, stream: Any):
        super().__init__(stream)
        self._measured: dict[int, tuple[int, int]] = {}  # id(node) -> (values, depth), aliases expanded
        self._path: list[str] = []
        self._nesting = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node:
        if self.check_event(AliasEvent):
            node = super().compose_node(parent, index)
            if id(node) not in self._measured:  # an alias of a node still being composed
                raise Refused(self._where(), f"an alias refers to itself (line {node.start_mark.line + 1})")
            return node
        self._nesting += 1
        self._path.append(_segment(index))
        if self._nesting > MAX_DEPTH:
            raise Refused(_line(self.peek_event().start_mark), f"nested more than {MAX_DEPTH} levels deep")
        try:
            node = super().compose_node(parent, index)
            self._measure(node)
        finally:
            self._nesting -= 1
            self._path.pop()
        return node

    def _measure(self, node: Node) -> None:
        if isinstance(node, MappingNode):
            self._check_keys(node)
            children = [child for pair in node.value for child in pair]
        else:
            children = list(node.value) if isinstance(node, SequenceNode) else []
        values, depth = 1, 1
        for child in children:
            found = self._measured[id(child)]
            values += found[0]
            depth = max(depth, found[1] + 1)
        if values > MAX_VALUES:
            raise Refused(self._where(), f"stands for more than {MAX_VALUES:,} values {_EXPANDED}")
        if depth > MAX_DEPTH:
            raise Refused(self._where(), f"nested more than {MAX_DEPTH} levels deep {_EXPANDED}")
        self._measured[id(node)] = (values, depth)

    def _check_keys(self, node: MappingNode) -> None:
        seen: dict[tuple[str, str], int] = {}
        for key, _value in node.value:
            if not isinstance(key, ScalarNode) or key.tag == _MERGE:
                continue
            line, first = key.start_mark.line + 1, seen.get((key.tag, key.value))
            seen.setdefault((key.tag, key.value), line)
            if first is not None:
                shown = key.value if len(key.value) <= 40 else key.value[:37] + "..."
                lines = f"lines {first} and {line}" if first != line else f"twice on line {line}"
                raise Refused(self._where(), f"duplicate key '{shown}' ({lines}): YAML would keep only the last")

    def _where(self) -> str:
        """The key path of the node being composed ('' at the top)."""
        return "".join(p if p.startswith("[") or not p else "." + p for p in self._path).lstrip(".")


def _segment(index: Any) -> str:
    if isinstance(index, ScalarNode):
        return str(index.value)
    if isinstance(index, int) and not isinstance(index, bool):
        return f"[{index}]"
    return ""


def _line(mark: Any) -> str:
    return f"line {mark.line + 1}, column {mark.column + 1}"


def load(text: str) -> Any:
    """The one document of ``text``, as ``yaml.safe_load`` would return it, or :class:`Refused`."""
    loader = Loader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()
