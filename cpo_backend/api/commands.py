"""Commands to a station: ``POST /api/stations/{id}/commands/{name}``, one route each.

The request bodies are the domain's command dataclasses themselves, and the answers
their typed results, so the API, Python callers and OCPI send exactly the same thing
through the same command service, whatever protocol version the station speaks.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends
from pydantic import BaseModel

from cpo_backend.api.services import ApiServices, services
from cpo_backend.domain import commands as c

router = APIRouter(prefix="/stations/{station_id}/commands", tags=["commands"])
Api = Annotated[ApiServices, Depends(services)]


class RemoteStopBody(BaseModel):
    transaction_id: int


COMMANDS: list[type[c.Command[c.CommandResult]]] = [
    c.RemoteStart,
    c.Reset,
    c.UnlockConnector,
    c.ChangeAvailability,
    c.GetConfiguration,
    c.ChangeConfiguration,
    c.ClearCache,
    c.DataTransfer,
    c.TriggerMessage,
    c.GetDiagnostics,
    c.UpdateFirmware,
    c.GetVariables,
    c.SetVariables,
    c.GetBaseReport,
    c.GetReport,
    c.GetTransactionStatus,
    c.SetNetworkProfile,
    c.RawCall,
]


def _route_for(command_type: type[c.Command[c.CommandResult]]) -> None:
    async def send(
        api: Api,
        station_id: str,
        command: Annotated[command_type, Body()],  # type: ignore[valid-type]
    ) -> c.CommandResult:
        return await api.commands.execute(station_id, command)

    # Annotations are strings here (PEP 563) and ``command_type`` is local to this
    # function, so FastAPI could not resolve it and took ``command`` for a query
    # parameter: hand it the real annotation.
    send.__annotations__["command"] = Annotated[command_type, Body()]
    router.add_api_route(
        f"/{command_type.name}",
        send,
        methods=["POST"],
        name=command_type.name,
        response_model=c.result_type_of(command_type),
        summary=(command_type.__doc__ or command_type.__name__).splitlines()[0],
    )


for _command_type in COMMANDS:
    _route_for(_command_type)


@router.post("/remote-stop")
async def remote_stop(api: Api, station_id: str, body: RemoteStopBody) -> c.Acknowledgement:
    """Stop one of our transactions on this station, whatever the charger calls it."""
    transaction = await api.transactions.get(body.transaction_id)
    if transaction.station_id != station_id:
        raise c.CommandNotSupported(
            f"transaction {body.transaction_id} is not on station {station_id}"
        )
    return await api.commands.remote_stop(body.transaction_id)
