"""What a session has charged so far, and what it costs: shared by Session updates and
the sealed CDR, so that the running estimate and the bill are the same computation."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from cpo_backend.domain.meter import DEFAULT_MEASURAND
from cpo_backend.domain.model import TransactionDetails
from cpo_backend.pricing import (
    ChargingPeriod,
    MeterSample,
    build_charging_periods,
    price_session,
    render_charging_periods,
)

POWER_MEASURAND = "Power.Active.Import"


def meter_samples(details: TransactionDetails) -> list[MeterSample]:
    """Register and power readings per instant, with meterStart and meterStop at the ends."""
    energy: dict[Any, Decimal] = {}
    power: dict[Any, Decimal] = {}
    for value in details.meter_values:
        if value.value is None or value.phase is not None or value.after_stop:
            continue
        if value.measurand == DEFAULT_MEASURAND and value.unit == "Wh":
            energy[value.sampled_at] = value.value
        elif value.measurand == POWER_MEASURAND and value.unit == "W":
            power[value.sampled_at] = value.value
    if details.started_at is not None and details.meter_start_wh is not None:
        energy.setdefault(details.started_at, details.meter_start_wh)
    if details.stopped_at is not None and details.meter_stop_wh is not None:
        energy[details.stopped_at] = details.meter_stop_wh
    return [
        MeterSample(moment, energy_wh=energy.get(moment), power_w=power.get(moment))
        for moment in sorted(energy.keys() | power.keys())
    ]


@dataclass(frozen=True, slots=True)
class Charged:
    periods: list[ChargingPeriod]
    # The CDR total_* fields (prices with and without VAT, volumes).
    totals: dict[str, Any]

    def rendered_periods(self) -> list[dict[str, Any]]:
        return render_charging_periods(self.periods)


def charged(
    samples: list[MeterSample],
    start: datetime,
    end: datetime,
    tariff: dict[str, Any] | None,
    zone: str,
    kwh: Decimal,
) -> Charged:
    """Charging periods from ``start`` to ``end``, priced under ``tariff`` in the location's
    time zone; without a tariff the cost is 0 (raises ``PricingError`` on unusable data)."""
    periods = build_charging_periods(samples, start, end, tariff=tariff, tz=zone)
    if tariff is not None:
        return Charged(periods, price_session(tariff, periods, zone).ocpi_totals())
    hours = Decimal((end - start).total_seconds()) / 3600
    totals = {
        "total_cost": {"excl_vat": 0},
        "total_energy": float(round(kwh, 3)),
        "total_time": float(round(hours, 4)),
    }
    return Charged(periods, totals)
