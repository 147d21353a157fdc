"""Error types of the pricing package.

Every failure the package raises derives from :class:`PricingError`, so callers (the OCPI API,
the CLI) can turn any of them into a clear client error with one ``except``.
"""

from __future__ import annotations


class PricingError(ValueError):
    """Base class: the input cannot be priced as given."""


class InvalidTariffError(PricingError):
    """A tariff document violates the OCPI field rules (length, enum, pattern, cardinality)."""


class InvalidSessionDataError(PricingError):
    """Charging periods, a CDR or meter samples are inconsistent (order, time zone, gaps)."""


class TariffConversionError(PricingError):
    """A tariff cannot be expressed in the requested OCPI version without changing its prices."""
