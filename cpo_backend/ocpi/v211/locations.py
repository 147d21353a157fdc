"""Our locations in the OCPI 2.1.1 shape, derived from the same domain objects.

2.1.1 differs in small ways: a Location has a ``type`` (from ``parking_type``) and no
owner party, connectors have ``voltage``/``amperage`` and one ``tariff_id``, fewer power
types and capabilities exist.
"""

from __future__ import annotations

from typing import Any

from cpo_backend.domain.locations import Evse, Location
from cpo_backend.domain.time import format_utc
from cpo_backend.ocpi.auth import module_caller_211
from cpo_backend.ocpi.locations import LocationShapes, locations_router
from cpo_backend.ocpi.transport.headers import Party

LOCATION_TYPES = frozenset(
    {"ON_STREET", "PARKING_GARAGE", "UNDERGROUND_GARAGE", "PARKING_LOT", "OTHER", "UNKNOWN"}
)
CAPABILITIES = frozenset(
    {
        "CHARGING_PROFILE_CAPABLE",
        "CREDIT_CARD_PAYABLE",
        "REMOTE_START_STOP_CAPABLE",
        "RESERVABLE",
        "RFID_READER",
        "UNLOCK_CAPABLE",
    }
)
POWER_TYPES = {"AC_2_PHASE": "AC_1_PHASE", "AC_2_PHASE_SPLIT": "AC_1_PHASE"}
LOCATION_FIELDS = (
    "name",
    "address",
    "city",
    "country",
    "coordinates",
    "related_locations",
    "directions",
    "operator",
    "suboperator",
    "owner",
    "facilities",
    "time_zone",
    "opening_times",
    "charging_when_closed",
    "images",
    "energy_mix",
)
EVSE_FIELDS = (
    "evse_id",
    "floor_level",
    "coordinates",
    "physical_reference",
    "directions",
    "parking_restrictions",
    "images",
)


def _present(source: dict[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    return {key: source[key] for key in fields if source.get(key) not in (None, [])}


def render_connector_211(connector: dict[str, Any], evse: Evse) -> dict[str, Any]:
    rendered: dict[str, Any] = {
        "id": connector["id"],
        "standard": connector["standard"],
        "format": connector["format"],
        "power_type": POWER_TYPES.get(connector["power_type"], connector["power_type"]),
        "voltage": connector["max_voltage"],
        "amperage": connector["max_amperage"],
    }
    if connector.get("tariff_ids"):
        rendered["tariff_id"] = connector["tariff_ids"][0]
    if connector.get("terms_and_conditions"):
        rendered["terms_and_conditions"] = connector["terms_and_conditions"]
    rendered["last_updated"] = format_utc(evse.details_updated)
    return rendered


def render_evse_211(evse: Evse) -> dict[str, Any]:
    rendered: dict[str, Any] = {"uid": evse.uid, "status": evse.status}
    capabilities = [c for c in evse.details.get("capabilities", []) if c in CAPABILITIES]
    if capabilities:
        rendered["capabilities"] = capabilities
    rendered |= _present(evse.details, EVSE_FIELDS)
    connectors = evse.details.get("connectors", [])
    rendered["connectors"] = [render_connector_211(c, evse) for c in connectors]
    rendered["last_updated"] = format_utc(evse.last_updated)
    return rendered


def render_location_211(location: Location, _us: Party) -> dict[str, Any]:
    details = location.details
    parking = details.get("parking_type")
    rendered: dict[str, Any] = {
        "id": location.id,
        "type": parking if parking in LOCATION_TYPES else ("OTHER" if parking else "UNKNOWN"),
        "postal_code": details.get("postal_code", ""),
    }
    rendered |= _present(details, LOCATION_FIELDS)
    rendered["evses"] = [render_evse_211(evse) for evse in location.evses]
    rendered["last_updated"] = format_utc(location.last_updated)
    return rendered


router = locations_router(
    LocationShapes(render_location_211, render_evse_211, render_connector_211),
    module_caller_211,
)


def session_location_211(location: Location, evse_uid: str, connector_id: str) -> dict[str, Any]:
    """A 2.1.1 Session or CDR names its place by a whole Location holding only the EVSE
    and connector used."""
    rendered = render_location_211(location, Party("", ""))
    evse = next(e for e in rendered["evses"] if e["uid"] == evse_uid)
    connectors = [c for c in evse["connectors"] if c["id"] == connector_id]
    return rendered | {"evses": [evse | {"connectors": connectors or evse["connectors"][:1]}]}
