"""Keep passwords out of everything multidb prints or writes."""

from __future__ import annotations

from collections.abc import Iterable

MASK = "***"
# URL query parameters whose values are secrets (masked when shown, never cached)
SECRET_QUERY_KEYS = frozenset({"password", "passwd", "pwd", "sslpassword", "secret", "token", "api_key"})


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


def first_line(text: str, *secrets: str | None) -> str:
    """The first non-empty line of a driver's message, scrubbed of secrets."""
    for line in text.strip().splitlines():
        line = line.strip()
        if line:
            return scrub(line, secrets)
    return "unknown error"
