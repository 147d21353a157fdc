"""The locations module, Sender interface: our Locations as OCPI 2.2.1 objects.

Rendering lives here too: the domain keeps what the operator said (``details``) and the
derived status; this module adds what OCPI wants on the wire (our party, timestamps).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from cpo_backend.domain.time import format_utc
from cpo_backend.ocpi.auth import Context, module_caller
from cpo_backend.ocpi.catalogue import catalogue_list
from cpo_backend.ocpi.context import OcpiContext
from cpo_backend.ocpi.transport.envelope import OcpiError, OcpiResponse, StatusCode, ocpi_response
from cpo_backend.ocpi.transport.headers import Party
from cpo_backend.ocpi.transport.pagination import (
    PageRequest,
    page_request,
)
from cpo_backend.roaming.locations import Evse, Location, LocationNotFound


def render_connector(connector: dict[str, Any], evse: Evse) -> dict[str, Any]:
    rendered = {key: value for key, value in connector.items() if value not in (None, [])}
    rendered["last_updated"] = format_utc(evse.details_updated)
    return rendered


def render_evse(evse: Evse) -> dict[str, Any]:
    details = dict(evse.details)
    connectors = details.pop("connectors", [])
    rendered: dict[str, Any] = {"uid": evse.uid, "status": evse.status}
    rendered.update({key: value for key, value in details.items() if value != []})
    rendered["connectors"] = [render_connector(c, evse) for c in connectors]
    rendered["last_updated"] = format_utc(evse.last_updated)
    return rendered


def render_location(location: Location, us: Party) -> dict[str, Any]:
    rendered: dict[str, Any] = {
        "country_code": us.country_code,
        "party_id": us.party_id,
        "id": location.id,
        "publish": location.publish,
    }
    rendered.update({key: value for key, value in location.details.items() if value != []})
    rendered["evses"] = [render_evse(evse) for evse in location.evses]
    rendered["last_updated"] = format_utc(location.last_updated)
    return rendered


def _unknown(what: str) -> OcpiError:
    return OcpiError(StatusCode.UNKNOWN_LOCATION, f"Unknown {what}", http_status=404)


@dataclass(frozen=True, slots=True)
class LocationShapes:
    """How one OCPI version renders locations, EVSEs and connectors."""

    location: Callable[[Location, Party], dict[str, Any]]
    evse: Callable[[Evse], dict[str, Any]]
    connector: Callable[[dict[str, Any], Evse], dict[str, Any]]


async def _location(ctx: OcpiContext, location_id: str) -> Location:
    try:
        return await ctx.locations.get(location_id)
    except LocationNotFound:
        raise _unknown("location") from None


def _evse(location: Location, evse_uid: str) -> Evse:
    found = next((evse for evse in location.evses if evse.uid == evse_uid), None)
    if found is None:
        raise _unknown("EVSE")
    return found


def _connector(evse: Evse, connector_id: str) -> dict[str, Any]:
    """The EVSE's connector of that id; unknown (404 with 2003) otherwise."""
    for connector in evse.details.get("connectors", []):
        if connector.get("id") == connector_id:
            return dict(connector)
    raise _unknown("connector")


def locations_router(shapes: LocationShapes, caller: Any) -> APIRouter:
    """GET list, location, EVSE and connector; ``caller`` is the auth dependency."""
    router = APIRouter(prefix="/locations", dependencies=[Depends(caller)])

    @router.get("")
    async def list_locations(
        request: Request, ctx: Context, page: Annotated[PageRequest, Depends(page_request)]
    ) -> OcpiResponse:
        return await catalogue_list(
            request,
            ctx,
            page,
            ctx.locations.page,
            lambda location: shapes.location(location, ctx.us),
        )

    @router.get("/{location_id}")
    async def get_location(ctx: Context, location_id: str) -> OcpiResponse:
        return ocpi_response(shapes.location(await _location(ctx, location_id), ctx.us))

    @router.get("/{location_id}/{evse_uid}")
    async def get_evse(ctx: Context, location_id: str, evse_uid: str) -> OcpiResponse:
        return ocpi_response(shapes.evse(_evse(await _location(ctx, location_id), evse_uid)))

    @router.get("/{location_id}/{evse_uid}/{connector_id}")
    async def get_connector(
        ctx: Context, location_id: str, evse_uid: str, connector_id: str
    ) -> OcpiResponse:
        evse = _evse(await _location(ctx, location_id), evse_uid)
        return ocpi_response(shapes.connector(_connector(evse, connector_id), evse))

    return router


router = locations_router(
    LocationShapes(render_location, render_evse, render_connector), module_caller
)
