"""Where exact amounts become payable ones: currency minor units and the rounding rule.

Pricing never rounds an intermediate value. The one rule for payable amounts, applied to
excl. and incl. VAT alike:

1. each cost component (the CDR's total_fixed_cost, total_energy_cost, total_time_cost,
   total_parking_cost, total_reservation_cost) is rounded once, from its exact rational
   value, to the currency's ISO 4217 minor unit with ROUND_HALF_UP;
2. the payable total is the sum of those rounded components (then bounded by the tariff's
   min_price / max_price, see :mod:`cpo_backend.pricing.cost`).

So the lines an eMSP or a driver reads add up to the total to the cent, and each line is
its own exact amount (its volumes times the prices the driver was shown) rounded once,
whatever the other lines are (docs/ocpi.md, "Price transparency (AFIR)", says why this
rule; docs/pricing.md why half-up rather than banker's rounding).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from decimal import Decimal
from fractions import Fraction

# ISO 4217 currencies whose minor unit is not 2 decimals; every other code uses 2.
_MINOR_UNITS: dict[str, int] = {
    **dict.fromkeys(
        [
            "BIF",
            "CLP",
            "DJF",
            "GNF",
            "ISK",
            "JPY",
            "KMF",
            "KRW",
            "PYG",
            "RWF",
            "UGX",
            "UYI",
            "VND",
            "VUV",
            "XAF",
            "XOF",
            "XPF",
        ],
        0,
    ),
    **dict.fromkeys(["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"], 3),
    **dict.fromkeys(["CLF", "UYW"], 4),
}


def minor_unit(currency: str) -> int:
    """Number of decimals of ``currency``'s minor unit (2 unless ISO 4217 says otherwise)."""
    return _MINOR_UNITS.get(currency.upper(), 2)


def round_half_up(value: Fraction, decimals: int) -> Decimal:
    """Round an exact rational half away from zero, without an inexact intermediate step."""
    scaled = abs(value) * 10**decimals
    units = math.floor(scaled + Fraction(1, 2))
    magnitude = Decimal(units).scaleb(-decimals)
    return -magnitude if value < 0 else magnitude


def payable(components: Iterable[Fraction], decimals: int) -> tuple[list[Decimal], Decimal]:
    """The rule: each exact component rounded half-up, and the total their sum."""
    rounded = [round_half_up(component, decimals) for component in components]
    return rounded, sum(rounded, Decimal(0).scaleb(-decimals))
