"""The commands module, Receiver interface: START_SESSION, STOP_SESSION,
UNLOCK_CONNECTOR, RESERVE_NOW and CANCEL_RESERVATION.

Each request is checked and resolved to a station and a version-neutral command here;
the answer is a CommandResponse (ACCEPTED with a timeout, or REJECTED/UNKNOWN_SESSION
when it cannot be carried out), the CommandResult follows on ``response_url``.

What a command names must be the caller's: a token of another party is an unknown
object (404, 2003, before anything is stored or sent to a charger); a session or a
reservation is looked up among the caller's only (another partner's is UNKNOWN_SESSION,
REJECTED), and behind a hub among those of the party that sent it (OCPI-from).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Request
from pydantic import BaseModel
from sqlalchemy import select

from cpo_backend.db.tables_ocpi import SessionRow
from cpo_backend.domain import commands as c
from cpo_backend.domain.model import TransactionStatus
from cpo_backend.domain.transactions import TransactionNotFound
from cpo_backend.ocpi.auth import Context, ModuleCaller, relays_for, require_owner
from cpo_backend.ocpi.command_results import CommandRunner, PlannedCommand, reservation_of
from cpo_backend.ocpi.context import VERSION, OcpiContext
from cpo_backend.ocpi.sessions import token_owner
from cpo_backend.ocpi.tokens import Token
from cpo_backend.ocpi.transport.envelope import OcpiError, OcpiResponse, StatusCode, ocpi_response
from cpo_backend.ocpi.transport.headers import Party, request_sender
from cpo_backend.ocpi.transport.pagination import require_datetime
from cpo_backend.ocpi.transport.validation import validated
from cpo_backend.roaming.locations import LocationNotFound
from cpo_backend.roaming.partners import PartnerAccess

router = APIRouter(prefix="/commands")

CommandType = Literal[
    "START_SESSION", "STOP_SESSION", "UNLOCK_CONNECTOR", "RESERVE_NOW", "CANCEL_RESERVATION"
]


class StartSession(BaseModel):
    response_url: str
    token: Token
    location_id: str
    evse_uid: str | None = None
    connector_id: str | None = None
    authorization_reference: str | None = None


class StopSession(BaseModel):
    response_url: str
    session_id: str


class UnlockConnector(BaseModel):
    response_url: str
    location_id: str
    evse_uid: str
    connector_id: str


class ReserveNow(BaseModel):
    response_url: str
    token: Token
    expiry_date: str
    reservation_id: str
    location_id: str
    evse_uid: str | None = None
    authorization_reference: str | None = None


class CancelReservation(BaseModel):
    response_url: str
    reservation_id: str


MODELS: dict[str, type[BaseModel]] = {
    "START_SESSION": StartSession,
    "STOP_SESSION": StopSession,
    "UNLOCK_CONNECTOR": UnlockConnector,
    "RESERVE_NOW": ReserveNow,
    "CANCEL_RESERVATION": CancelReservation,
}


class Refused(Exception):
    """The command cannot be carried out: CommandResponse ``result`` and why."""

    def __init__(self, result: str, message: str) -> None:
        super().__init__(message)
        self.result = result


async def _evse(ctx: OcpiContext, location_id: str, evse_uid: str | None) -> tuple[str, int, str]:
    """The station and OCPP EVSE behind an OCPI EVSE (the only one, if none is named),
    and that EVSE's uid."""
    try:
        location = await ctx.locations.get(location_id)
    except LocationNotFound:
        raise OcpiError(StatusCode.UNKNOWN_LOCATION, "Unknown location") from None
    live = [e for e in location.evses if e.status != "REMOVED"]
    if evse_uid is None and len(live) == 1:
        evse_uid = live[0].uid
    found = next((e for e in live if e.uid == evse_uid), None)
    if found is None:
        raise Refused("REJECTED", "evse_uid missing or unknown at this location")
    if found.station_id is None or found.ocpp_evse_id is None:
        raise Refused("REJECTED", "EVSE is not bound to a charging station")
    return found.station_id, found.ocpp_evse_id, found.uid


async def _caller_token(
    ctx: OcpiContext, access: PartnerAccess, token: Token, requester: Party | None
) -> None:
    """A command may only carry a token of the caller's (else 404, 2003): it is stored
    as the caller's, and a charger would charge on another party's contract."""
    await require_owner(ctx, access, Party(token.country_code, token.party_id), requester)


async def _remember_token(ctx: OcpiContext, token: Token) -> None:
    """The charger will ask about the token the eMSP starts with: know it by then."""
    stamp = require_datetime("token.last_updated", token.last_updated)
    await ctx.partner_tokens.put(token.model_dump(exclude_none=True), stamp)


async def _plan(
    ctx: OcpiContext,
    access: PartnerAccess,
    version: str,
    name: str,
    body: BaseModel,
    requester: Party | None,
) -> PlannedCommand:
    """Check the command and resolve it to a station and a version-neutral command."""
    partner_id = access.partner.id

    def planned(
        station_id: str, command: c.Command[c.Acknowledgement], **extra: Any
    ) -> PlannedCommand:
        url = getattr(body, "response_url")  # noqa: B009 (every command model has it)
        return PlannedCommand(
            partner_id, version, name, station_id, command, url, requester=requester, **extra
        )

    match body:
        case StartSession():
            await _caller_token(ctx, access, body.token, requester)
            station_id, evse_id, uid = await _evse(ctx, body.location_id, body.evse_uid)
            await _remember_token(ctx, body.token)
            return planned(
                station_id,
                c.RemoteStart(body.token.uid, evse_id=evse_id),
                token_uid=body.token.uid,
                authorization_reference=body.authorization_reference,
                place=(body.location_id, uid, body.connector_id),
            )
        case StopSession():
            # Only the caller's own sessions: the Session ids we pushed to it.
            ours = await ctx.db.fetch_one(
                select(SessionRow.transaction_id, SessionRow.cdr_token).where(
                    SessionRow.ocpi_id == body.session_id, SessionRow.partner_id == partner_id
                )
            )
            # Behind a hub: only the sending party's own sessions.
            if ours is None or not relays_for(access, token_owner(ours.cdr_token), requester):
                raise Refused("UNKNOWN_SESSION", "unknown session")
            if ours.transaction_id is None:
                raise Refused("REJECTED", "the charger has not started the session yet")
            try:
                session = await ctx.transactions.get(ours.transaction_id)
            except TransactionNotFound:
                raise Refused("UNKNOWN_SESSION", "unknown session") from None
            if session.status != TransactionStatus.ACTIVE or not session.charger_transaction_id:
                raise Refused("UNKNOWN_SESSION", "session is not active")
            return planned(session.station_id, c.RemoteStop(session.charger_transaction_id))
        case UnlockConnector():
            station_id, evse_id, _uid = await _evse(ctx, body.location_id, body.evse_uid)
            connector = int(body.connector_id) if body.connector_id.isdigit() else 1
            return planned(station_id, c.UnlockConnector(evse_id, connector))
        case ReserveNow():
            await _caller_token(ctx, access, body.token, requester)
            station_id, evse_id, uid = await _evse(ctx, body.location_id, body.evse_uid)
            await _remember_token(ctx, body.token)
            expires = require_datetime("expiry_date", body.expiry_date)
            # Our OCPP reservation id is given by the runner when it stores the command.
            reserve = c.ReserveNow(
                0, body.token.uid, expires, evse_id, group_id=body.token.group_id
            )
            return planned(
                station_id,
                reserve,
                token_uid=body.token.uid,
                authorization_reference=body.authorization_reference,
                reservation_id=body.reservation_id,
                place=(body.location_id, uid, None),
            )
        case CancelReservation():
            reserved = await reservation_of(ctx.db, partner_id, body.reservation_id)
            if reserved is None:
                raise Refused("REJECTED", "unknown reservation")
            station_id, ours = reserved
            cancel = c.CancelReservation(ours)
            return planned(
                station_id, cancel, overrides={c.CommandStatus.REJECTED: "UNKNOWN_RESERVATION"}
            )
    raise Refused("NOT_SUPPORTED", "unsupported command")


def command_runner(request: Request) -> CommandRunner:
    found: CommandRunner = request.app.state.command_runner
    return found


def _response(result: str, timeout: int, message: str | None = None) -> OcpiResponse:
    data: dict[str, Any] = {"result": result, "timeout": timeout}
    if message:
        data["message"] = [{"language": "en", "text": message}]
    return ocpi_response(data)


async def carry_out(
    ctx: OcpiContext,
    runner: CommandRunner,
    access: PartnerAccess,
    version: str,
    name: str,
    body: BaseModel,
    requester: Party | None = None,
) -> str | Refused:
    """ACCEPTED once the command is stored and under way, or why it was refused;
    ``access`` is the calling partner, ``requester`` the party behind a hub that sent it
    (OCPI-from). A command naming another party's token raises (404, 2003)."""
    try:
        planned = await _plan(ctx, access, version, name, body, requester)
    except Refused as refused:
        return refused
    await runner.submit(planned)
    return "ACCEPTED"


@router.post("/{command}")
async def receive_command(
    request: Request,
    ctx: Context,
    caller: ModuleCaller,
    runner: Annotated[CommandRunner, Depends(command_runner)],
    command: CommandType,
    body: Annotated[dict[str, Any], Body()],
) -> OcpiResponse:
    parsed = validated(MODELS[command], body)
    timeout = int(ctx.command_timeout) + 1
    sender = request_sender(request.headers)
    outcome = await carry_out(ctx, runner, caller, VERSION, command, parsed, sender)
    if isinstance(outcome, Refused):
        return _response(outcome.result, timeout, str(outcome))
    return _response(outcome, timeout)
