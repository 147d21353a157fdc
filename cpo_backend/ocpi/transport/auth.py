"""The ``Authorization: Token ...`` header, both ways.

OCPI 2.2.1 Base64-encodes the credentials token; 2.1.1 (and many 2.2 implementations)
send it plain. On input we accept both: a value that decodes as Base64 to printable
ASCII is taken as encoded, anything else as the token itself. Our tokens are URL-safe
Base64 text of 43 characters, which never decodes to printable ASCII by accident, so the
two readings cannot collide for tokens we issued.
"""

from __future__ import annotations

import base64
import binascii

PRINTABLE = frozenset(chr(code) for code in range(0x21, 0x7F))


def authorization_header(token: str, *, version: str = "2.2.1") -> str:
    if version.startswith("2.1"):
        return f"Token {token}"
    return "Token " + base64.b64encode(token.encode()).decode()


def token_candidates(header: str | None) -> list[str]:
    """The tokens an ``Authorization`` value may carry: decoded first, then as sent."""
    if not header:
        return []
    scheme, _, value = header.strip().partition(" ")
    value = value.strip()
    if scheme.lower() != "token" or not value:
        return []
    candidates = []
    try:
        decoded = base64.b64decode(value, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        decoded = ""
    if decoded and set(decoded) <= PRINTABLE:
        candidates.append(decoded)
    candidates.append(value)
    return candidates
