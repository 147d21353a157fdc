"""Carrying out an OCPI command and reporting its CommandResult to the eMSP.

The HTTP request that brought the command is answered at once (CommandResponse); the
charger's answer comes later. :class:`CommandRunner` first stores the command
(``ocpi_commands``), so that the result owed survives a restart, then sends the
version-neutral command through the domain's CommandService in the background; the
charger's answer marks the row done and queues the CommandResult for the
``response_url`` in the outbox, in one write. Rows still running when the back-end
starts were cut off by a stop: their result is TIMEOUT.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import structlog
from sqlalchemy import insert, select, update

from cpo_backend.db.database import Database
from cpo_backend.db.tables_ocpi import CommandRow
from cpo_backend.db.writer import WriteTx
from cpo_backend.domain.commands import (
    Acknowledgement,
    Command,
    CommandError,
    CommandNotSupported,
    CommandService,
    CommandStatus,
    CommandTimeout,
    ReserveNow,
)
from cpo_backend.domain.time import utc_now
from cpo_backend.ocpi.outbox import INSERT_ROW, OutboxWorker, Push, outbox_row
from cpo_backend.ocpi.shapes import SHAPES
from cpo_backend.ocpi.transport.headers import Party

log = structlog.get_logger(__name__)

# (transaction, command row id, result): more to write with a command's result.
AfterResult = Callable[[WriteTx, int, str], Awaitable[None]]

RUNNING = "running"
DONE = "done"

# The charger's answer as an OCPI CommandResultType; any other is FAILED.
CHARGER_STATUS_TO_RESULT = {
    CommandStatus.ACCEPTED: "ACCEPTED",
    CommandStatus.REJECTED: "REJECTED",
    CommandStatus.UNLOCKED: "ACCEPTED",
    CommandStatus.UNLOCK_FAILED: "FAILED",
    CommandStatus.ONGOING_AUTHORIZED_TRANSACTION: "REJECTED",
    CommandStatus.UNKNOWN_CONNECTOR: "FAILED",
    CommandStatus.NOT_SUPPORTED: "NOT_SUPPORTED",
    CommandStatus.OCCUPIED: "EVSE_OCCUPIED",
    CommandStatus.FAULTED: "EVSE_INOPERATIVE",
    CommandStatus.UNAVAILABLE: "EVSE_INOPERATIVE",
}


@dataclass(frozen=True, slots=True)
class PlannedCommand:
    """A command ready to run: where, what, and how to report back."""

    partner_id: int
    version: str
    name: str
    station_id: str
    command: Command[Acknowledgement]
    response_url: str
    # Per-command readings of the charger's status (CANCEL_RESERVATION: Rejected means
    # the reservation is unknown).
    overrides: dict[CommandStatus, str] = field(default_factory=dict)
    token_uid: str | None = None
    authorization_reference: str | None = None
    # RESERVE_NOW: the eMSP's reservation id (the command's own OCPP id is ours).
    reservation_id: str | None = None
    # The OCPI location, EVSE uid and connector id named (START_SESSION, RESERVE_NOW).
    place: tuple[str, str, str | None] | None = None
    # Who sent it (the request's OCPI-from), for the CommandResult's OCPI-to.
    requester: Party | None = None


@dataclass(frozen=True, slots=True)
class _Finished:
    """What finishing a command needs of it (as named in its row)."""

    id: int
    command: str
    partner_id: int
    version: str
    response_url: str
    from_country_code: str | None
    from_party_id: str | None


async def reservation_of(
    db: Database, partner_id: int, reservation_id: str
) -> tuple[str, int] | None:
    """The station and our OCPP reservation id of an eMSP's reservation, if it made one."""
    row = await db.fetch_one(
        select(CommandRow.station_id, CommandRow.ocpp_reservation_id)
        .where(
            CommandRow.partner_id == partner_id,
            CommandRow.reservation_id == reservation_id,
            CommandRow.ocpp_reservation_id.is_not(None),
        )
        .order_by(CommandRow.id.desc())
    )
    return (row.station_id, row.ocpp_reservation_id) if row is not None else None


class CommandRunner:
    def __init__(
        self,
        db: Database,
        commands: CommandService,
        outbox: OutboxWorker,
        after_result: Mapping[str, AfterResult] | None = None,
    ) -> None:
        """``after_result``: per command, what else to write with its result (in the same
        transaction): the PENDING Session an accepted START_SESSION announces."""
        self._db = db
        self._commands = commands
        self._outbox = outbox
        self._tasks: set[asyncio.Task[None]] = set()
        self._after_result = dict(after_result or {})

    async def submit(self, planned: PlannedCommand) -> None:
        """Store the command (committed before the eMSP hears ACCEPTED), then run it."""
        existing = (
            await reservation_of(self._db, planned.partner_id, planned.reservation_id)
            if planned.reservation_id is not None
            else None
        )

        async def op(tx: WriteTx) -> int:
            result = await tx.execute(
                insert(CommandRow).values(
                    partner_id=planned.partner_id,
                    version=planned.version,
                    command=planned.name,
                    response_url=planned.response_url,
                    station_id=planned.station_id,
                    token_uid=planned.token_uid,
                    authorization_reference=planned.authorization_reference,
                    reservation_id=planned.reservation_id,
                    location_id=planned.place[0] if planned.place else None,
                    evse_uid=planned.place[1] if planned.place else None,
                    connector_id=planned.place[2] if planned.place else None,
                    from_country_code=planned.requester.country_code if planned.requester else None,
                    from_party_id=planned.requester.party_id if planned.requester else None,
                    state=RUNNING,
                    created_at=utc_now(),
                )
            )
            (row_id,) = result.inserted_primary_key or (0,)
            if planned.reservation_id is not None:
                # The same eMSP reservation id again replaces that reservation (OCPI):
                # it keeps its OCPP id; a new one gets this row's id as ours.
                ours = existing[1] if existing is not None else row_id
                await tx.execute(
                    update(CommandRow)
                    .where(CommandRow.id == row_id)
                    .values(ocpp_reservation_id=ours)
                )
            return int(row_id)

        row_id = await self._db.write(op)
        command = planned.command
        if isinstance(command, ReserveNow):
            ours = existing[1] if existing is not None else row_id
            command = dataclasses.replace(command, reservation_id=ours)
        task = asyncio.create_task(self._run(row_id, planned, command))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def recover(self) -> None:
        """Report the commands a stop cut off: the charger's answer is lost with it."""
        rows = await self._db.fetch_all(select(CommandRow).where(CommandRow.state == RUNNING))
        for row in rows:
            message = "back-end restarted before the charger answered"
            await self._finish(row, "TIMEOUT", message)
        if rows:
            log.warning("commands cut off by a restart reported as TIMEOUT", count=len(rows))

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _run(
        self, row_id: int, planned: PlannedCommand, command: Command[Acknowledgement]
    ) -> None:
        result, message = await self._execute(planned, command)
        requester = planned.requester
        finished = _Finished(
            row_id,
            planned.name,
            planned.partner_id,
            planned.version,
            planned.response_url,
            requester.country_code if requester else None,
            requester.party_id if requester else None,
        )
        await self._finish(finished, result, message)

    async def _finish(self, command: Any, result: str, message: str | None) -> None:
        """Mark the command (its row or a :class:`_Finished`) done and queue its result, and
        what hangs on it, in one write."""
        body = SHAPES[command.version].command_result(result, message)
        to = (
            Party(command.from_country_code, command.from_party_id)
            if command.from_party_id
            else None
        )
        push = Push("commands", "POST", command.response_url, command.response_url, body, to)
        hook = self._after_result.get(command.command)

        async def op(tx: WriteTx) -> None:
            await tx.execute(
                update(CommandRow)
                .where(CommandRow.id == command.id)
                .values(state=DONE, result=result, finished_at=utc_now())
            )
            tx.defer(INSERT_ROW, outbox_row(command.partner_id, push))
            if hook is not None:
                await hook(tx, command.id, result)

        await self._db.write(op)
        self._outbox.wake()

    async def _execute(
        self, planned: PlannedCommand, command: Command[Acknowledgement]
    ) -> tuple[str, str | None]:
        try:
            answer = await self._commands.execute(planned.station_id, command)
        except CommandTimeout as error:
            return "TIMEOUT", str(error)
        except CommandNotSupported as error:
            return "NOT_SUPPORTED", str(error)
        except CommandError as error:
            return "FAILED", str(error)
        readings = CHARGER_STATUS_TO_RESULT | planned.overrides
        if answer.status in readings:
            return readings[answer.status], answer.reason
        return "FAILED", answer.status.value
