"""The commands module of OCPI 2.1.1, Receiver side.

2.1.1 has four commands (no CANCEL_RESERVATION), Tokens in its own shape, integer
reservation ids, and a CommandResponse that is only a ``result`` of five values, both as
the immediate answer and as the result POSTed to ``response_url`` later. Each command is
turned into its 2.2.1 counterpart and carried out by the same code.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends
from pydantic import BaseModel, Field

from cpo_backend.ocpi import commands as v221
from cpo_backend.ocpi.auth import Context, module_caller_211
from cpo_backend.ocpi.command_results import CommandRunner
from cpo_backend.ocpi.context import VERSION_211, partner_party
from cpo_backend.ocpi.tokens import Token
from cpo_backend.ocpi.transport.envelope import OcpiError, OcpiResponse, StatusCode, ocpi_response
from cpo_backend.ocpi.transport.headers import Party
from cpo_backend.ocpi.transport.validation import validated
from cpo_backend.ocpi.v211.tokens import Token211, token_as_221
from cpo_backend.roaming.partners import PartnerAccess

router = APIRouter(prefix="/commands")

CommandType = Literal["RESERVE_NOW", "START_SESSION", "STOP_SESSION", "UNLOCK_CONNECTOR"]


class StartSession211(BaseModel):
    response_url: str
    token: dict[str, Any]
    location_id: str = Field(max_length=39)
    evse_uid: str | None = Field(default=None, max_length=39)


class ReserveNow211(BaseModel):
    response_url: str
    token: dict[str, Any]
    expiry_date: str
    reservation_id: int
    location_id: str = Field(max_length=39)
    evse_uid: str | None = Field(default=None, max_length=39)


MODELS: dict[str, type[BaseModel]] = {
    "START_SESSION": StartSession211,
    "STOP_SESSION": v221.StopSession,
    "UNLOCK_CONNECTOR": v221.UnlockConnector,
    "RESERVE_NOW": ReserveNow211,
}


def _token(data: dict[str, Any], owner: Party) -> Token:
    return Token.model_validate(token_as_221(validated(Token211, data, "token."), owner))


def as_221(body: BaseModel, owner: Party) -> BaseModel:
    """The 2.2.1 command a 2.1.1 one asks for; the token belongs to the calling eMSP."""
    match body:
        case StartSession211():
            return v221.StartSession(
                response_url=body.response_url,
                token=_token(body.token, owner),
                location_id=body.location_id,
                evse_uid=body.evse_uid,
            )
        case ReserveNow211():
            return v221.ReserveNow(
                response_url=body.response_url,
                token=_token(body.token, owner),
                expiry_date=body.expiry_date,
                reservation_id=str(body.reservation_id),
                location_id=body.location_id,
                evse_uid=body.evse_uid,
            )
    return body


@router.post("/{command}")
async def receive_command(
    ctx: Context,
    caller: Annotated[PartnerAccess, Depends(module_caller_211)],
    runner: Annotated[CommandRunner, Depends(v221.command_runner)],
    command: CommandType,
    body: Annotated[dict[str, Any], Body()],
) -> OcpiResponse:
    owner = partner_party(caller.partner)
    if owner is None:
        raise OcpiError(StatusCode.CLIENT_ERROR, "partner has no party")
    parsed = as_221(validated(MODELS[command], body), owner)
    outcome = await v221.carry_out(ctx, runner, caller, VERSION_211, command, parsed)
    result = outcome.result if isinstance(outcome, v221.Refused) else outcome
    # 2.1.1 has no message: the reason of a refusal goes to the status message.
    message = str(outcome) if isinstance(outcome, v221.Refused) else None
    return ocpi_response({"result": result}, message=message)
