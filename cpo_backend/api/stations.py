"""Stations: registration, live status, message log and events."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status
from pydantic import AfterValidator, BaseModel, Field

from cpo_backend.api.services import ApiServices, services
from cpo_backend.domain.model import (
    MessageLogEntry,
    Registration,
    Station,
    StationDetails,
    StationEvent,
)
from cpo_backend.domain.stations import identity_problem

router = APIRouter(prefix="/stations", tags=["stations"])
Api = Annotated[ApiServices, Depends(services)]


def _valid_identity(station_id: str) -> str:
    problem = identity_problem(station_id)
    if problem is not None:
        raise ValueError(problem)
    return station_id


class StationCreate(BaseModel):
    # The rule of the handshake: a station registered here can connect.
    id: Annotated[str, AfterValidator(_valid_identity)]
    password: str | None = Field(default=None, min_length=8, max_length=64)
    registration: Registration = Registration.ACCEPTED


class StationUpdate(BaseModel):
    password: str | None = Field(default=None, min_length=8, max_length=64)
    clear_password: bool = False
    registration: Registration | None = None


@router.get("")
async def list_stations(api: Api, online: bool | None = None) -> list[Station]:
    return await api.stations.find(online=online)


@router.post("", status_code=status.HTTP_201_CREATED)
async def register_station(api: Api, body: StationCreate) -> Station:
    return await api.stations.register(
        body.id, password=body.password, registration=body.registration
    )


@router.get("/{station_id}")
async def station_details(api: Api, station_id: str) -> StationDetails:
    return await api.stations.details(station_id)


@router.patch("/{station_id}")
async def update_station(api: Api, station_id: str, body: StationUpdate) -> Station:
    return await api.stations.update(
        station_id,
        password=body.password,
        clear_password=body.clear_password,
        registration=body.registration,
    )


@router.delete("/{station_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_station(api: Api, station_id: str) -> Response:
    await api.stations.delete(station_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{station_id}/messages")
async def message_log(
    api: Api,
    station_id: str,
    before_id: int | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[MessageLogEntry]:
    """The station's OCPP frames, newest first; page with ``before_id``."""
    await api.stations.get(station_id)
    return await api.message_log.entries(station_id, before_id=before_id, limit=limit)


@router.get("/{station_id}/events")
async def station_events(
    api: Api, station_id: str, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> list[StationEvent]:
    """Notifications the station sent (DataTransfer, firmware, diagnostics ...), newest first."""
    await api.stations.get(station_id)
    return await api.stations.events(station_id, limit=limit)
