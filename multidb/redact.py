"""Keep passwords out of everything multidb prints or writes."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

MASK = "***"
# URL query parameters whose values are secrets (masked when shown)
SECRET_QUERY_KEYS = frozenset({"password", "passwd", "pwd", "sslpassword", "secret", "token", "api_key"})


def mask_url(url: str) -> str:
    """``url`` as shown to a user: password and secret query values as ``***`` (the only form ever shown).

    Rendered by SQLAlchemy's URL API, except two things kept readable: a SQLite file path is shown as
    written (no ``file%3A``, no ``%20``), and a fleet's ``{tenant}`` placeholder stays unquoted.
    """
    from urllib.parse import quote_plus

    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    pairs = [(k, v) for k, values in sorted(parsed.query.items()) for v in _as_list(values)]
    shown = [(k, MASK if k.lower() in SECRET_QUERY_KEYS else v) for k, v in pairs]
    if parsed.get_backend_name() == "sqlite" and parsed.database and not parsed.password:
        base = f"{parsed.drivername}:///{parsed.database}"  # a file path, as written
        return base + ("?" + "&".join(f"{k}={v}" for k, v in shown) if shown else "")
    base = parsed.set(query={}).render_as_string(hide_password=True).replace("%7Btenant%7D", "{tenant}")
    query = "&".join(f"{quote_plus(k)}={v if v == MASK else quote_plus(v)}" for k, v in shown)
    return base + ("?" + query if query else "")


class SecretURL(str):
    """A URL string whose ``repr()`` is masked: it works wherever a ``str`` URL does, but pytest's ``-l``,
    junit XML, logging of ``%r`` and debuggers show ``***`` for its password."""

    __slots__ = ()

    def __repr__(self) -> str:
        return repr(mask_url(str(self)))


def _as_list(values: Any) -> list[str]:
    return [values] if isinstance(values, str) else list(values)


def scrub(text: str, secrets: Iterable[str | None]) -> str:
    """``text`` with every occurrence of each secret replaced by ``***``."""
    # a one- or two-character password would mask every such letter of a message (it stays hidden in
    # URLs, which are always rendered masked)
    for secret in sorted((s for s in secrets if s and len(s) >= 3), key=len, reverse=True):
        text = text.replace(secret, MASK)
        # a password inside a URL is usually percent-encoded
        from urllib.parse import quote_plus

        encoded = quote_plus(secret)
        if encoded != secret:
            text = text.replace(encoded, MASK)
    return text


# MariaDB/MySQL syntax errors quote the statement from the error to its end: "... near 'BY 'pw'' at line 1"
_NEAR = re.compile(r"\bnear '.*' at line (\d+)", re.DOTALL)
# SQLAlchemy's error text: "[SQL: ...]" (may span lines), then "[parameters: ...]", then "(Background on ...)"
_SQL = re.compile(r"\[SQL: (.*?)\](?=\n\[parameters: |\n\(Background on |\n*\Z|\n)", re.DOTALL)
_PARAMETERS = re.compile(r"\[parameters: .*?\](?=\n\(Background on |\n*\Z|\n)", re.DOTALL)
_LITERAL = re.compile(r"'(?:[^'\\]|\\.|'')*'", re.DOTALL)


def hide_statements(text: str) -> str:
    """``text`` (a driver's message, a traceback) without what a failing statement carried: its string
    literals (``IDENTIFIED BY '...'``, ``PASSWORD '...'``), its bound parameters, and the statement text
    a MariaDB/MySQL syntax error quotes. Statement shapes and identifiers stay readable."""
    text = _NEAR.sub(r"near (statement text hidden) at line \1", text)
    text = _SQL.sub(lambda m: "[SQL: " + _LITERAL.sub("'***'", m.group(1)) + "]", text)
    return _PARAMETERS.sub("[parameters: hidden]", text)


def first_line(text: str, *secrets: str | None) -> str:
    """The first non-empty line of a driver's message, scrubbed of secrets and statement literals."""
    for line in hide_statements(text).strip().splitlines():
        line = line.strip()
        if line:
            return scrub(line, secrets)
    return "unknown error"
