"""Our locations in the OCPI 2.1.1 shape, derived from the same domain objects.

2.1.1 differs in small ways: a Location has a ``type`` (from ``parking_type``) and no
owner party, connectors have ``voltage``/``amperage`` and one ``tariff_id``, fewer power
types and capabilities exist.

A connector's ``tariff_id`` names only a tariff served to 2.1.1 partners
(:meth:`Served211.tariff_id`); the GETs here know which those are. Every Location has a
2.1.1 form, so the list pages in SQL.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from cpo_backend.domain.time import format_utc
from cpo_backend.ocpi.auth import Context, module_caller_211
from cpo_backend.ocpi.catalogue import catalogue_list
from cpo_backend.ocpi.locations import _connector, _evse, _location
from cpo_backend.ocpi.transport.envelope import OcpiResponse, ocpi_response
from cpo_backend.ocpi.transport.headers import Party
from cpo_backend.ocpi.transport.pagination import PageRequest, page_request
from cpo_backend.ocpi.v211.tariffs import Served211
from cpo_backend.roaming.locations import Evse, Location

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


def render_connector_211(
    connector: dict[str, Any], evse: Evse, served: Served211 | None = None
) -> dict[str, Any]:
    """``served`` None (a push, a Session's location: no tariffs at hand) names the first of
    ``tariff_ids`` unchecked."""
    rendered: dict[str, Any] = {
        "id": connector["id"],
        "standard": connector["standard"],
        "format": connector["format"],
        "power_type": POWER_TYPES.get(connector["power_type"], connector["power_type"]),
        "voltage": connector["max_voltage"],
        "amperage": connector["max_amperage"],
    }
    tariff_ids = connector.get("tariff_ids") or []
    tariff_id = tariff_ids[0] if served is None and tariff_ids else None
    if served is not None:
        tariff_id = served.tariff_id(tariff_ids)
    if tariff_id is not None:
        rendered["tariff_id"] = tariff_id
    if connector.get("terms_and_conditions"):
        rendered["terms_and_conditions"] = connector["terms_and_conditions"]
    rendered["last_updated"] = format_utc(evse.details_updated)
    return rendered


def render_evse_211(evse: Evse, served: Served211 | None = None) -> dict[str, Any]:
    rendered: dict[str, Any] = {"uid": evse.uid, "status": evse.status}
    capabilities = [c for c in evse.details.get("capabilities", []) if c in CAPABILITIES]
    if capabilities:
        rendered["capabilities"] = capabilities
    rendered |= _present(evse.details, EVSE_FIELDS)
    connectors = evse.details.get("connectors", [])
    rendered["connectors"] = [render_connector_211(c, evse, served) for c in connectors]
    rendered["last_updated"] = format_utc(evse.last_updated)
    return rendered


def render_location_211(
    location: Location, _us: Party, served: Served211 | None = None
) -> dict[str, Any]:
    details = location.details
    parking = details.get("parking_type")
    rendered: dict[str, Any] = {
        "id": location.id,
        "type": parking if parking in LOCATION_TYPES else ("OTHER" if parking else "UNKNOWN"),
        "postal_code": details.get("postal_code", ""),
    }
    rendered |= _present(details, LOCATION_FIELDS)
    rendered["evses"] = [render_evse_211(evse, served) for evse in location.evses]
    rendered["last_updated"] = format_utc(location.last_updated)
    return rendered


router = APIRouter(prefix="/locations", dependencies=[Depends(module_caller_211)])


@router.get("")
async def list_locations(
    request: Request, ctx: Context, page: Annotated[PageRequest, Depends(page_request)]
) -> OcpiResponse:
    served = await Served211.load(ctx.tariffs)
    return await catalogue_list(
        request,
        ctx,
        page,
        ctx.locations.page,
        lambda location: render_location_211(location, ctx.us, served),
    )


@router.get("/{location_id}")
async def get_location(ctx: Context, location_id: str) -> OcpiResponse:
    location = await _location(ctx, location_id)
    return ocpi_response(render_location_211(location, ctx.us, await Served211.load(ctx.tariffs)))


@router.get("/{location_id}/{evse_uid}")
async def get_evse(ctx: Context, location_id: str, evse_uid: str) -> OcpiResponse:
    evse = _evse(await _location(ctx, location_id), evse_uid)
    return ocpi_response(render_evse_211(evse, await Served211.load(ctx.tariffs)))


@router.get("/{location_id}/{evse_uid}/{connector_id}")
async def get_connector(
    ctx: Context, location_id: str, evse_uid: str, connector_id: str
) -> OcpiResponse:
    evse = _evse(await _location(ctx, location_id), evse_uid)
    connector = _connector(evse, connector_id)
    served = await Served211.load(ctx.tariffs)
    return ocpi_response(render_connector_211(connector, evse, served))


def session_location_211(location: Location, evse_uid: str, connector_id: str) -> dict[str, Any]:
    """A 2.1.1 Session or CDR names its place by a whole Location holding only the EVSE
    and connector used."""
    rendered = render_location_211(location, Party("", ""))
    evse = next(e for e in rendered["evses"] if e["uid"] == evse_uid)
    connectors = [c for c in evse["connectors"] if c["id"] == connector_id]
    return rendered | {"evses": [evse | {"connectors": connectors or evse["connectors"][:1]}]}
