"""``${VAR}`` and ``${VAR:-default}`` expansion of config values from the environment."""

from __future__ import annotations

import re
from collections.abc import Mapping

_PATTERN = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}|\$\{[^}]*\}?")


class MissingVariable(Exception):
    """A ``${VAR}`` has no value in the environment and no default."""

    def __init__(self, name: str):
        self.name = name
        super().__init__(name)


class BadReference(Exception):
    """A ``${...}`` that is not of the form ``${NAME}`` or ``${NAME:-default}``."""


def expand(text: str, environ: Mapping[str, str]) -> str:
    """Return ``text`` with every reference replaced; ``$$`` stands for a literal ``$``."""

    def replace(match: re.Match[str]) -> str:
        whole = match.group(0)
        if whole == "$$":
            return "$"
        name, default = match.group(1), match.group(2)
        if name is None:
            raise BadReference(whole)
        value = environ.get(name)
        if value is None or (value == "" and default is not None):
            if default is None:
                raise MissingVariable(name)
            return default
        return value

    return _PATTERN.sub(replace, text)
