"""OCPI scalar values: numbers and DateTimes, parsed exactly and rendered spec-true.

OCPI numbers travel as JSON numbers. Parsing goes through ``str`` so that a float from a JSON
library becomes the decimal the sender wrote (0.1, not 0.1000000000000000055...). Rendering
goes the other way: the stdlib ``json`` module cannot emit a ``Decimal`` as a number, so a
value is handed over as ``int`` or ``float`` only after it has been quantised to a few decimals,
where the float's shortest repr is guaranteed to print exactly those digits again.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from fractions import Fraction
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cpo_backend.pricing.errors import InvalidSessionDataError, PricingError

JsonNumber = int | float

# 15 significant digits always survive a float round trip (IEEE 754 double, DBL_DIG).
_FLOAT_SAFE_DIGITS = 15

_DATETIME = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})?$"
)


def to_decimal(value: object, field: str) -> Decimal:
    """Return ``value`` (a JSON number) as the exact ``Decimal`` its text denotes."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise PricingError(f"{field}: expected a number, got {value!r}")
    try:
        result = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    except InvalidOperation as exc:  # pragma: no cover - repr of a float is always parseable
        raise PricingError(f"{field}: not a number: {value!r}") from exc
    if not result.is_finite():
        raise PricingError(f"{field}: must be finite, got {value!r}")
    return result


def parse_datetime(value: object, field: str) -> datetime:
    """Parse an OCPI DateTime into an aware UTC ``datetime``.

    OCPI demands UTC with an optional ``Z``; an explicit offset is accepted and converted
    because rejecting a partner's otherwise correct instant helps nobody.
    """
    if not isinstance(value, str) or not (match := _DATETIME.match(value)):
        raise PricingError(f"{field}: not an OCPI DateTime: {value!r}")
    text = value if match.group(8) not in (None, "Z") else value.removesuffix("Z") + "+00:00"
    fraction = match.group(7)
    if fraction and len(fraction) > 7:  # fromisoformat takes at most microseconds
        text = text.replace(fraction, fraction[:7])
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise PricingError(f"{field}: not an OCPI DateTime: {value!r}") from exc
    return parsed.astimezone(UTC)


def format_datetime(value: datetime) -> str:
    """Render an aware instant as OCPI wants it: UTC, ``Z`` suffix, at most milliseconds."""
    if value.tzinfo is None:
        raise PricingError(f"naive datetime {value.isoformat()} has no time zone")
    utc = value.astimezone(UTC)
    text = utc.strftime("%Y-%m-%dT%H:%M:%S")
    millis = utc.microsecond // 1000
    return f"{text}.{millis:03d}Z" if millis else f"{text}Z"


def json_number(value: Decimal | Fraction, decimals: int | None = None) -> JsonNumber:
    """Return a JSON-ready number for ``value``.

    With ``decimals`` the value is rounded half-up to that many decimals, or fewer where the
    integer part leaves less room in the 15 digits a float carries exactly. Without it the
    value must already fit: silently changing a tariff price in transit is worse than refusing.
    """
    exact = value if isinstance(value, Decimal) else fraction_to_decimal(value)
    if decimals is not None:
        integer_digits = max(exact.adjusted() + 1, 1)
        places = min(decimals, _FLOAT_SAFE_DIGITS - integer_digits)
        exact = exact.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    if exact == exact.to_integral_value():
        return int(exact)
    if len(exact.normalize().as_tuple().digits) > _FLOAT_SAFE_DIGITS:
        raise PricingError(f"{exact} has more digits than a JSON number can carry exactly")
    return float(exact)


def fraction_to_decimal(value: Fraction) -> Decimal:
    """Convert an exact rational to a ``Decimal`` (28 significant digits if it does not end)."""
    return Decimal(value.numerator) / Decimal(value.denominator)


def resolve_zone(tz: str | ZoneInfo) -> ZoneInfo:
    """The Location ``time_zone`` (an IANA name such as Europe/Berlin) as a ``ZoneInfo``."""
    if isinstance(tz, ZoneInfo):
        return tz
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidSessionDataError(f"unknown time zone {tz!r}") from exc


def microseconds(delta: timedelta) -> int:
    """A duration as whole microseconds: the exact resolution of ``datetime`` arithmetic."""
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
