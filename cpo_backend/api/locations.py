"""Locations, EVSEs and connectors the operator publishes to roaming partners."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from cpo_backend.api.roaming import Roaming
from cpo_backend.roaming.locations import Location, LocationSpec

router = APIRouter(prefix="/locations", tags=["ocpi"])


@router.get("")
async def list_locations(
    roaming: Roaming,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[Location]:
    locations, _total = await roaming.locations.page(offset=offset, limit=limit)
    return locations


@router.put("/{location_id}")
async def put_location(
    roaming: Roaming,
    location_id: Annotated[str, Path(pattern=r"^[A-Za-z0-9._-]{1,36}$")],
    body: LocationSpec,
) -> Location:
    """Create or replace a location with its EVSEs; EVSEs left out become REMOVED."""
    return await roaming.locations.put(location_id, body)


@router.get("/{location_id}")
async def get_location(roaming: Roaming, location_id: str) -> Location:
    return await roaming.locations.get(location_id)
