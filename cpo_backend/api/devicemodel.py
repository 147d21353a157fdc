"""A station's OCPP 2.0.1 device model: ``GET /api/stations/{id}/device-model``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from cpo_backend.api.services import ApiServices, services
from cpo_backend.domain.devicemodel import DeviceModel

router = APIRouter(prefix="/stations", tags=["stations"])
Api = Annotated[ApiServices, Depends(services)]


@router.get("/{station_id}/device-model")
async def device_model(api: Api, station_id: str) -> DeviceModel:
    """What the station's reports (GetBaseReport/GetReport) said: variables and report progress.

    Empty for a station that never sent a NotifyReport (every 1.6 station).
    """
    await api.stations.get(station_id)
    return await api.device_models.get(station_id)
