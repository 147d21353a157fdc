"""Small builders so each test states a tariff and a session in the spec's own terms."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from cpo_backend.pricing import ChargingPeriod, CostTotal, Reading

BERLIN = ZoneInfo("Europe/Berlin")
Json = dict[str, Any]


def tariff(*elements: Json, **fields: Any) -> Json:
    """An OCPI 2.2.1 tariff dict owned by DE*ALL, in EUR."""
    return {
        "country_code": "DE",
        "party_id": "ALL",
        "id": "T1",
        "currency": "EUR",
        "elements": list(elements),
        "last_updated": "2019-02-03T17:00:11Z",
        **fields,
    }


def element(*components: Json, **restrictions: Any) -> Json:
    out: Json = {"price_components": list(components)}
    if restrictions:
        out["restrictions"] = restrictions
    return out


def pc(kind: str, price: str, vat: str | None = None, step: int = 1) -> Json:
    out: Json = {"type": kind, "price": Decimal(price), "step_size": step}
    if vat is not None:
        out["vat"] = Decimal(vat)
    return out


@dataclass(frozen=True)
class Span:
    """One stretch of a session: charging, parking or reserved, for ``minutes``."""

    kind: str
    minutes: float
    kwh: str = "0"
    power_kw: str | None = None
    current_a: str | None = None


def charging(
    minutes: float, kwh: str = "0", *, power_kw: str | None = None, current_a: str | None = None
) -> Span:
    return Span("charging", minutes, kwh, power_kw, current_a)


def parking(minutes: float) -> Span:
    return Span("parking", minutes)


def reserved(minutes: float) -> Span:
    return Span("reserved", minutes)


def session(start: datetime, *spans: Span) -> list[ChargingPeriod]:
    """Consecutive charging periods starting at ``start`` (aware), one per span."""
    periods = []
    at = start
    for span in spans:
        end = at + timedelta(minutes=span.minutes)
        seconds = Decimal(int((end - at).total_seconds() * 1_000_000)) / 1_000_000
        periods.append(
            ChargingPeriod(
                start=at,
                end=end,
                energy_kwh=Decimal(span.kwh),
                charging_s=seconds if span.kind == "charging" else Decimal(0),
                parking_s=seconds if span.kind == "parking" else Decimal(0),
                reservation_s=seconds if span.kind == "reserved" else Decimal(0),
                power_kw=_reading(span.power_kw),
                current_a=_reading(span.current_a),
            )
        )
        at = end
    return periods


def _reading(value: str | None) -> Reading:
    return Reading() if value is None else Reading(Decimal(value), Decimal(value), Decimal(value))


def local(text: str) -> datetime:
    """A Europe/Berlin wall-clock instant, e.g. ``local("2024-06-03 09:30")``."""
    return datetime.fromisoformat(text).replace(tzinfo=BERLIN)


def amounts(total: CostTotal) -> tuple[str, str]:
    """The payable (rounded) excl. and incl. VAT amounts as strings, for terse asserts."""
    return (str(total.rounded.excl_vat), str(total.rounded.incl_vat))


def exact(total: CostTotal) -> tuple[Decimal, Decimal]:
    return (total.exact.excl_vat, total.exact.incl_vat)


# The CDR fields whose rounded costs add up to ``total_cost`` (docs/pricing.md).
COMPONENTS = (
    "total_fixed_cost",
    "total_energy_cost",
    "total_time_cost",
    "total_parking_cost",
    "total_reservation_cost",
)
