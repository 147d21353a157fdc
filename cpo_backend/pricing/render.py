"""Rendering the tariff model as OCPI 2.2.1 JSON (the inverse of :func:`parse_tariff`).

Optional fields are left out rather than sent as ``null``, numbers are JSON numbers carrying
exactly the digits of the model, and DateTimes are UTC with ``Z``.
"""

from __future__ import annotations

from typing import Any

from cpo_backend.pricing.model import (
    DisplayText,
    EnergyMix,
    Price,
    PriceComponent,
    Tariff,
    TariffElement,
    TariffRestrictions,
)
from cpo_backend.pricing.values import format_datetime, json_number


def render_tariff(tariff: Tariff) -> dict[str, Any]:
    """The OCPI 2.2.1 Tariff object for ``tariff``."""
    out: dict[str, Any] = {
        "country_code": tariff.country_code,
        "party_id": tariff.party_id,
        "id": tariff.id,
        "currency": tariff.currency,
    }
    if tariff.type is not None:
        out["type"] = tariff.type.value
    if tariff.tariff_alt_text:
        out["tariff_alt_text"] = [render_display_text(t) for t in tariff.tariff_alt_text]
    if tariff.tariff_alt_url is not None:
        out["tariff_alt_url"] = tariff.tariff_alt_url
    if tariff.min_price is not None:
        out["min_price"] = render_price(tariff.min_price)
    if tariff.max_price is not None:
        out["max_price"] = render_price(tariff.max_price)
    out["elements"] = [_element(e) for e in tariff.elements]
    if tariff.start_date_time is not None:
        out["start_date_time"] = format_datetime(tariff.start_date_time)
    if tariff.end_date_time is not None:
        out["end_date_time"] = format_datetime(tariff.end_date_time)
    if tariff.energy_mix is not None:
        out["energy_mix"] = _energy_mix(tariff.energy_mix)
    out["last_updated"] = format_datetime(tariff.last_updated)
    return out


def render_price(price: Price) -> dict[str, Any]:
    out: dict[str, Any] = {"excl_vat": json_number(price.excl_vat)}
    if price.incl_vat is not None:
        out["incl_vat"] = json_number(price.incl_vat)
    return out


def render_display_text(text: DisplayText) -> dict[str, str]:
    return {"language": text.language, "text": text.text}


def _element(element: TariffElement) -> dict[str, Any]:
    out: dict[str, Any] = {"price_components": [_component(c) for c in element.price_components]}
    if element.restrictions is not None:
        out["restrictions"] = _restrictions(element.restrictions)
    return out


def _component(component: PriceComponent) -> dict[str, Any]:
    out: dict[str, Any] = {"type": component.type.value, "price": json_number(component.price)}
    if component.vat is not None:
        out["vat"] = json_number(component.vat)
    out["step_size"] = component.step_size
    return out


def _restrictions(r: TariffRestrictions) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in ("start_time", "end_time"):
        if (moment := getattr(r, name)) is not None:
            out[name] = moment.strftime("%H:%M")
    for name in ("start_date", "end_date"):
        if (day := getattr(r, name)) is not None:
            out[name] = day.isoformat()
    for name in ("min_kwh", "max_kwh", "min_current", "max_current", "min_power", "max_power"):
        if (limit := getattr(r, name)) is not None:
            out[name] = json_number(limit)
    for name in ("min_duration", "max_duration"):
        if (seconds := getattr(r, name)) is not None:
            out[name] = seconds
    if r.day_of_week:
        out["day_of_week"] = [d.value for d in r.day_of_week]
    if r.reservation is not None:
        out["reservation"] = r.reservation.value
    return out


def _energy_mix(mix: EnergyMix) -> dict[str, Any]:
    out: dict[str, Any] = {"is_green_energy": mix.is_green_energy}
    if mix.energy_sources:
        out["energy_sources"] = [
            {"source": s.source.value, "percentage": json_number(s.percentage)}
            for s in mix.energy_sources
        ]
    if mix.environ_impact:
        out["environ_impact"] = [
            {"category": i.category.value, "amount": json_number(i.amount)}
            for i in mix.environ_impact
        ]
    if mix.supplier_name is not None:
        out["supplier_name"] = mix.supplier_name
    if mix.energy_product_name is not None:
        out["energy_product_name"] = mix.energy_product_name
    return out
