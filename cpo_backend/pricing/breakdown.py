"""The result of pricing a session: exact amounts, payable amounts, and the reasons.

Everything an operator needs to answer "why does my CDR say this?" is here: per priced piece
of a charging period, which tariff element was used for each dimension, which restrictions held
(and which earlier elements were skipped and why), how step_size changed the billed volume,
and whether min_price or max_price moved the total.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from cpo_backend.pricing.model import TariffDimensionType
from cpo_backend.pricing.restrictions import RestrictionCheck
from cpo_backend.pricing.values import JsonNumber, format_datetime, json_number

# Amounts in the explanation are for reading, not paying; 10 decimals show any sub-cent
# effect while staying within what a JSON number carries exactly.
_EXPLAIN_DECIMALS = 10
_VOLUME_DECIMALS = 4


class CostCategory(StrEnum):
    """The OCPI CDR total a charge is reported under."""

    FIXED = "fixed"
    ENERGY = "energy"
    TIME = "time"
    PARKING = "parking"
    RESERVATION = "reservation"


@dataclass(frozen=True, slots=True)
class Money:
    excl_vat: Decimal
    incl_vat: Decimal

    def to_json(self, decimals: int) -> dict[str, JsonNumber]:
        return {
            "excl_vat": json_number(self.excl_vat, decimals),
            "incl_vat": json_number(self.incl_vat, decimals),
        }


@dataclass(frozen=True, slots=True)
class CostTotal:
    """An amount both exact and as payable, by the rounding rule of
    :mod:`cpo_backend.pricing.rounding`: a component rounded once to the currency's minor
    unit; ``total_cost`` the sum of the payable components (within min/max_price)."""

    exact: Money
    rounded: Money


@dataclass(frozen=True, slots=True)
class SkippedElement:
    """An earlier element that had the dimension but did not apply, with the failed checks."""

    element_index: int
    failed: tuple[RestrictionCheck, ...]


@dataclass(frozen=True, slots=True)
class ComponentCharge:
    """What one price component charged in one piece of a period, and why it was chosen."""

    dimension: TariffDimensionType
    category: CostCategory
    element_index: int
    price: Decimal
    vat: Decimal | None
    step_size: int
    unit: str
    volume: Decimal
    billed_volume: Decimal
    excl_vat: Decimal
    incl_vat: Decimal
    restrictions: tuple[RestrictionCheck, ...]
    skipped: tuple[SkippedElement, ...]
    step_note: str | None


@dataclass(frozen=True, slots=True)
class PeriodCost:
    """A priced piece: a charging period, or the part of one between two restriction switches."""

    period_index: int
    start: datetime
    end: datetime
    local_start: datetime
    charges: tuple[ComponentCharge, ...]
    unpriced: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PriceLimitApplied:
    """min_price or max_price moved a total (excl. or incl. VAT) from ``before`` to ``after``."""

    limit: str
    basis: str
    before: Decimal
    after: Decimal


@dataclass(frozen=True, slots=True)
class CostBreakdown:
    """The priced session. ``total_*`` follow the OCPI CDR fields of the same names."""

    tariff_id: str
    currency: str
    time_zone: str
    decimals: int
    total_cost: CostTotal
    total_fixed_cost: CostTotal
    total_energy_cost: CostTotal
    total_time_cost: CostTotal
    total_parking_cost: CostTotal
    total_reservation_cost: CostTotal
    total_energy: Decimal
    total_time: Decimal
    total_parking_time: Decimal
    periods: tuple[PeriodCost, ...]
    price_limits: tuple[PriceLimitApplied, ...]
    notes: tuple[str, ...]

    def ocpi_totals(self) -> dict[str, Any]:
        """The CDR total_* fields: Prices rounded to the minor unit, volumes in kWh and h."""
        prices = {name: total.rounded.to_json(self.decimals) for name, total in self._costs()}
        return {
            **prices,
            "total_energy": json_number(self.total_energy, _VOLUME_DECIMALS),
            "total_time": json_number(self.total_time, _VOLUME_DECIMALS),
            "total_parking_time": json_number(self.total_parking_time, _VOLUME_DECIMALS),
        }

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict: the OCPI totals, plus a ``breakdown`` explaining every amount."""
        return {
            **self.ocpi_totals(),
            "breakdown": {
                "tariff_id": self.tariff_id,
                "currency": self.currency,
                "time_zone": self.time_zone,
                "rounding": (
                    f"each component ROUND_HALF_UP to {self.decimals} decimals; "
                    "total_cost is their sum, within min_price/max_price"
                ),
                "exact": {
                    name: total.exact.to_json(_EXPLAIN_DECIMALS) for name, total in self._costs()
                },
                "price_limits": [
                    {
                        "limit": p.limit,
                        "basis": p.basis,
                        "before": json_number(p.before, _EXPLAIN_DECIMALS),
                        "after": json_number(p.after, _EXPLAIN_DECIMALS),
                    }
                    for p in self.price_limits
                ],
                "periods": [_period_json(p) for p in self.periods],
                "notes": list(self.notes),
            },
        }

    def _costs(self) -> list[tuple[str, CostTotal]]:
        return [
            ("total_cost", self.total_cost),
            ("total_fixed_cost", self.total_fixed_cost),
            ("total_energy_cost", self.total_energy_cost),
            ("total_time_cost", self.total_time_cost),
            ("total_parking_cost", self.total_parking_cost),
            ("total_reservation_cost", self.total_reservation_cost),
        ]


def _period_json(period: PeriodCost) -> dict[str, Any]:
    return {
        "period_index": period.period_index,
        "start_date_time": format_datetime(period.start),
        "end_date_time": format_datetime(period.end),
        "local_start": period.local_start.isoformat(),
        "charges": [_charge_json(c) for c in period.charges],
        "unpriced": list(period.unpriced),
    }


def _charge_json(charge: ComponentCharge) -> dict[str, Any]:
    explain = _EXPLAIN_DECIMALS
    return {
        "dimension": charge.dimension.value,
        "category": charge.category.value,
        "element_index": charge.element_index,
        "price": json_number(charge.price),
        "vat": None if charge.vat is None else json_number(charge.vat),
        "step_size": charge.step_size,
        "unit": charge.unit,
        "volume": json_number(charge.volume, explain),
        "billed_volume": json_number(charge.billed_volume, explain),
        "excl_vat": json_number(charge.excl_vat, explain),
        "incl_vat": json_number(charge.incl_vat, explain),
        "restrictions": [_check_json(c) for c in charge.restrictions],
        "skipped_elements": [
            {"element_index": s.element_index, "failed": [_check_json(c) for c in s.failed]}
            for s in charge.skipped
        ],
        "step_note": charge.step_note,
    }


def _check_json(check: RestrictionCheck) -> dict[str, Any]:
    return {
        "restriction": check.restriction,
        "required": check.required,
        "observed": check.observed,
        "held": check.held,
    }
