"""A station's OCPP 2.0.1 device model: ``GET /api/stations/{id}/device-model``.

The composition root sets the service as ``app.state.device_model`` (the pattern of the
roaming routes), so the common :class:`~cpo_backend.api.services.ApiServices` stays as is.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from cpo_backend.api.services import ApiServices, services
from cpo_backend.domain.devicemodel import DeviceModel, DeviceModelService

router = APIRouter(prefix="/stations", tags=["stations"])
Api = Annotated[ApiServices, Depends(services)]


def device_models(request: Request) -> DeviceModelService:
    found: DeviceModelService = request.app.state.device_model
    return found


DeviceModels = Annotated[DeviceModelService, Depends(device_models)]


@router.get("/{station_id}/device-model")
async def device_model(api: Api, models: DeviceModels, station_id: str) -> DeviceModel:
    """What the station's reports (GetBaseReport/GetReport) said: variables and report progress.

    Empty for a station that never sent a NotifyReport (every 1.6 station).
    """
    await api.stations.get(station_id)
    return await models.get(station_id)
