"""Meter value normalisation: one unit per quantity, the spec's defaults made explicit.

Chargers report energy in Wh or kWh, power in W or kW, and leave out whatever the spec
lets them leave out. Everything downstream (sessions, CDRs, pricing) reads the
normalised ``value``/``unit``; the raw value and unit stay beside it as evidence.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import NamedTuple

DEFAULT_MEASURAND = "Energy.Active.Import.Register"
DEFAULT_LOCATION = "Outlet"
DEFAULT_CONTEXT = "Sample.Periodic"
DEFAULT_FORMAT = "Raw"

# The spec's default unit per measurand family when the charger names none.
_DEFAULT_UNITS = {
    "Energy.Active": "Wh",
    "Energy.Reactive": "varh",
    "Energy.Apparent": "VAh",
    "Power.Active": "W",
    "Power.Reactive": "var",
    "Power.Apparent": "VA",
    "Power.Offered": "W",
    "Current": "A",
    "Voltage": "V",
    "Frequency": "Hz",
    "SoC": "Percent",
    "Temperature": "Celsius",
    "Power.Factor": "",
    "RPM": "",
}

# Prefixed units and their base unit with the multiplier to get there.
_SCALED_UNITS = {
    "kWh": ("Wh", Decimal(1000)),
    "kW": ("W", Decimal(1000)),
    "kvarh": ("varh", Decimal(1000)),
    "kvar": ("var", Decimal(1000)),
    "kVAh": ("VAh", Decimal(1000)),
    "kVA": ("VA", Decimal(1000)),
}


class SampledValue(NamedTuple):
    """One normalised sample, ready to store (a tuple: a MeterValues has a dozen)."""

    sampled_at: datetime
    measurand: str
    phase: str | None
    location: str
    context: str
    unit: str
    value: Decimal | None
    raw_value: str
    raw_unit: str | None
    value_format: str


@cache
def default_unit(measurand: str) -> str:
    for prefix, unit in _DEFAULT_UNITS.items():
        if measurand.startswith(prefix):
            return unit
    return ""


def normalise(
    *,
    sampled_at: datetime,
    raw_value: str,
    measurand: str | None,
    unit: str | None,
    phase: str | None,
    location: str | None,
    context: str | None,
    value_format: str | None,
    multiplier: int = 0,
) -> SampledValue:
    """Normalise one sampled value.

    ``multiplier`` is the 2.0.1 ``unitOfMeasure.multiplier`` (a power of ten). A value
    that is not a number (a 1.6 ``SignedData`` blob) is kept raw with ``value`` None.
    """
    measurand = measurand or DEFAULT_MEASURAND
    value_format = value_format or DEFAULT_FORMAT
    normalised_unit = unit or default_unit(measurand)
    value: Decimal | None = None
    if value_format == DEFAULT_FORMAT:
        try:
            value = Decimal(raw_value.strip())
        except InvalidOperation:
            value = None
        if value is not None and not value.is_finite():
            value = None
    if value is not None:
        if multiplier:
            value = value.scaleb(multiplier)
        scaled = _SCALED_UNITS.get(normalised_unit)
        if scaled is not None:
            normalised_unit, factor = scaled
            value = value * factor
    return SampledValue(
        sampled_at=sampled_at,
        measurand=measurand,
        phase=phase,
        location=location or DEFAULT_LOCATION,
        context=context or DEFAULT_CONTEXT,
        unit=normalised_unit,
        value=value,
        raw_value=raw_value,
        raw_unit=unit,
        value_format=value_format,
    )


def energy_register(
    samples: Sequence[SampledValue], *, prefer: str | None = None, earliest: bool = False
) -> SampledValue | None:
    """The total (not per phase) imported energy register sample among ``samples``.

    One message may carry several (a 2.0.1 Ended with its ``Transaction.Begin`` and
    ``Transaction.End`` samples): the one of context ``prefer`` wins, else the latest by
    the charger's timestamps (``earliest``: the first), so that a stop reading is never
    taken from the begin sample.
    """
    registers = [
        sample
        for sample in samples
        if sample.measurand == DEFAULT_MEASURAND
        and sample.phase is None
        and sample.value is not None
        and sample.unit == "Wh"
    ]
    preferred = [sample for sample in registers if sample.context == prefer]
    candidates = preferred or registers
    if not candidates:
        return None
    pick = min if earliest else max
    return pick(candidates, key=lambda sample: sample.sampled_at)


def energy_register_wh(
    samples: Sequence[SampledValue], *, prefer: str | None = None, earliest: bool = False
) -> Decimal | None:
    """The value of :func:`energy_register`, in Wh."""
    found = energy_register(samples, prefer=prefer, earliest=earliest)
    return found.value if found is not None else None
