"""Pricing of charging sessions under OCPI 2.2.1 tariffs: exact, spec-true and explainable.

Pure computation: no I/O, no database. The entry points are re-exported here; see
docs/pricing.md for the rules the engine follows and where amounts are rounded.
"""

from cpo_backend.pricing.afir import (
    DEFAULT_ALT_TEXT_LANGUAGES,
    GENERATED_LANGUAGES,
    AfirCategory,
    PriceLine,
    ad_hoc_tariff,
    afir_display_text,
    afir_price_lines,
    afir_price_text,
    with_afir_alt_text,
)
from cpo_backend.pricing.breakdown import (
    ComponentCharge,
    CostBreakdown,
    CostCategory,
    CostTotal,
    Money,
    PeriodCost,
    PriceLimitApplied,
    SkippedElement,
)
from cpo_backend.pricing.cost import price_session
from cpo_backend.pricing.errors import (
    InvalidSessionDataError,
    InvalidTariffError,
    PricingError,
    TariffConversionError,
)
from cpo_backend.pricing.meter import Interval, MeterSample, build_charging_periods
from cpo_backend.pricing.model import (
    DayOfWeek,
    DisplayText,
    EnergyMix,
    Price,
    PriceComponent,
    ReservationRestrictionType,
    Tariff,
    TariffDimensionType,
    TariffElement,
    TariffRestrictions,
    TariffType,
    parse_tariff,
)
from cpo_backend.pricing.periods import (
    CdrDimensionType,
    ChargingPeriod,
    Reading,
    periods_from_cdr,
    render_charging_periods,
)
from cpo_backend.pricing.render import render_tariff
from cpo_backend.pricing.restrictions import RestrictionCheck
from cpo_backend.pricing.rounding import minor_unit, payable, round_half_up
from cpo_backend.pricing.v211 import parse_tariff_211, render_tariff_211

__all__ = [
    "DEFAULT_ALT_TEXT_LANGUAGES",
    "GENERATED_LANGUAGES",
    "AfirCategory",
    "CdrDimensionType",
    "ChargingPeriod",
    "ComponentCharge",
    "CostBreakdown",
    "CostCategory",
    "CostTotal",
    "DayOfWeek",
    "DisplayText",
    "EnergyMix",
    "Interval",
    "InvalidSessionDataError",
    "InvalidTariffError",
    "MeterSample",
    "Money",
    "PeriodCost",
    "Price",
    "PriceComponent",
    "PriceLimitApplied",
    "PriceLine",
    "PricingError",
    "Reading",
    "ReservationRestrictionType",
    "RestrictionCheck",
    "SkippedElement",
    "Tariff",
    "TariffConversionError",
    "TariffDimensionType",
    "TariffElement",
    "TariffRestrictions",
    "TariffType",
    "ad_hoc_tariff",
    "afir_display_text",
    "afir_price_lines",
    "afir_price_text",
    "build_charging_periods",
    "minor_unit",
    "parse_tariff",
    "parse_tariff_211",
    "payable",
    "periods_from_cdr",
    "price_session",
    "render_charging_periods",
    "render_tariff",
    "render_tariff_211",
    "round_half_up",
    "with_afir_alt_text",
]
