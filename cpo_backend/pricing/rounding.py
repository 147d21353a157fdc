"""Where exact amounts become payable ones: currency minor units and half-up rounding.

Pricing never rounds an intermediate value. Each reported total is rounded once, from its
exact rational value, to the currency's ISO 4217 minor unit with ROUND_HALF_UP (see
docs/pricing.md for why half-up and not banker's rounding).
"""

from __future__ import annotations

import math
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
