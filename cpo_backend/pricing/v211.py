"""The OCPI 2.1.1 tariff shape, converted to and from the 2.2.1 model at the edge.

2.1.1 lacks country_code/party_id, type, min/max_price, the validity window, VAT, the
current and reservation restrictions. Reading 2.1.1 keeps exactly the fields 2.1.1 defines
(a 2.2.1 field in a 2.1.1 document carries no 2.1.1 meaning). Writing 2.1.1 drops what is
informative only and refuses what would change a price: a 2.1.1 partner pricing the
tariff without its max_price or current restriction would bill something else.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cpo_backend.pricing.errors import InvalidTariffError, TariffConversionError
from cpo_backend.pricing.model import Tariff, parse_tariff
from cpo_backend.pricing.render import render_tariff

_TARIFF_FIELDS = (
    "id",
    "currency",
    "tariff_alt_text",
    "tariff_alt_url",
    "energy_mix",
    "last_updated",
)
_COMPONENT_FIELDS = ("type", "price", "step_size")
_RESTRICTION_FIELDS = (
    "start_time",
    "end_time",
    "start_date",
    "end_date",
    "min_kwh",
    "max_kwh",
    "min_power",
    "max_power",
    "min_duration",
    "max_duration",
    "day_of_week",
)
# Restrictions 2.1.1 cannot express; dropping one would widen when an element applies.
_PRICE_CHANGING_RESTRICTIONS = ("min_current", "max_current")


def _pick(data: Mapping[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    return {name: data[name] for name in fields if name in data}


def parse_tariff_211(data: Mapping[str, Any], *, country_code: str, party_id: str) -> Tariff:
    """Parse an OCPI 2.1.1 Tariff; 2.1.1 has no owner fields, so the caller supplies them."""
    elements = data.get("elements")
    if not isinstance(elements, list):
        raise InvalidTariffError("invalid Tariff: elements: must be a list")
    converted = []
    for element in elements:
        if not isinstance(element, Mapping):
            raise InvalidTariffError("invalid Tariff: elements: each element must be an object")
        components = element.get("price_components")
        entry: dict[str, Any] = {
            "price_components": [
                _pick(c, _COMPONENT_FIELDS) if isinstance(c, Mapping) else c
                for c in (components if isinstance(components, list) else [])
            ]
        }
        if isinstance(element.get("restrictions"), Mapping):
            entry["restrictions"] = _pick(element["restrictions"], _RESTRICTION_FIELDS)
        converted.append(entry)
    shape = {
        **_pick(data, _TARIFF_FIELDS),
        "country_code": country_code,
        "party_id": party_id,
        "elements": converted,
    }
    return parse_tariff(shape)


def render_tariff_211(tariff: Tariff) -> dict[str, Any]:
    """The OCPI 2.1.1 Tariff for ``tariff``, or :class:`TariffConversionError` if prices change.

    Reservation elements are left out: 2.1.1 has no reservations, so they can never apply there.
    """
    for name in ("min_price", "max_price"):
        if getattr(tariff, name) is not None:
            raise TariffConversionError(f"tariff {tariff.id}: OCPI 2.1.1 cannot express {name}")
    full = render_tariff(tariff)
    elements = []
    for element in full["elements"]:
        restrictions = element.get("restrictions", {})
        if "reservation" in restrictions:
            continue
        lost = [name for name in _PRICE_CHANGING_RESTRICTIONS if name in restrictions]
        if lost:
            raise TariffConversionError(
                f"tariff {tariff.id}: OCPI 2.1.1 cannot express restriction {', '.join(lost)}"
            )
        out: dict[str, Any] = {
            "price_components": [_pick(c, _COMPONENT_FIELDS) for c in element["price_components"]]
        }
        if restrictions:
            out["restrictions"] = restrictions
        elements.append(out)
    if not elements:
        raise TariffConversionError(f"tariff {tariff.id}: only reservation elements, none in 2.1.1")
    return {**_pick(full, _TARIFF_FIELDS), "elements": elements}
