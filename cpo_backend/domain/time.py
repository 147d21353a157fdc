"""Time on the wire: UTC, a ``Z`` suffix and at most millisecond precision.

Some chargers and roaming partners reject more digits or a ``+00:00`` offset, so every
timestamp we emit goes through :func:`format_utc`, and every instant we create starts at
:func:`utc_now`, already truncated so that what we store equals what we send.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import PlainSerializer


def utc_now() -> datetime:
    """The current instant in UTC, truncated to milliseconds."""
    return truncate_ms(datetime.now(UTC))


def truncate_ms(moment: datetime) -> datetime:
    return moment.replace(microsecond=moment.microsecond - moment.microsecond % 1000)


def as_utc(moment: datetime) -> datetime:
    """Attach UTC to a naive datetime (as SQLite returns them) or convert an aware one."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def format_utc(moment: datetime) -> str:
    """``2026-11-23T20:35:13.123Z``: the one timestamp format we put on any wire."""
    moment = as_utc(moment)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_timestamp(text: str) -> datetime:
    """Parse an RFC 3339 timestamp as chargers send it.

    Tolerated deviation: a timestamp without offset is read as UTC, since several 1.6
    chargers omit the ``Z``; more than six fractional digits are cut rather than refused.
    """
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    if "." in value:
        head, _, tail = value.partition(".")
        digits = ""
        rest = ""
        for index, char in enumerate(tail):
            if not char.isdigit():
                rest = tail[index:]
                break
            digits += char
        value = f"{head}.{digits[:6]}{rest}"
    return as_utc(datetime.fromisoformat(value))


UtcTimestamp = Annotated[datetime, PlainSerializer(format_utc, return_type=str)]
"""A datetime that serialises as :func:`format_utc` in API and protocol payloads."""
