"""Carrying out an OCPI command and reporting its CommandResult to the eMSP.

The HTTP request that brought the command is answered at once (CommandResponse); the
charger's answer comes later. :class:`CommandRunner` sends the version-neutral command
through the domain's CommandService in the background and queues the CommandResult for
the ``response_url`` in the outbox, so the report survives a failing eMSP or a restart.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import structlog

from cpo_backend.domain.commands import (
    Command,
    CommandError,
    CommandNotSupported,
    CommandService,
    CommandTimeout,
)
from cpo_backend.ocpi.outbox import OutboxWorker, Push

log = structlog.get_logger(__name__)

# The charger's answer (1.6 and 2.0.1 status names) as an OCPI CommandResultType.
CHARGER_STATUS_TO_RESULT = {
    "Accepted": "ACCEPTED",
    "Rejected": "REJECTED",
    "Unlocked": "ACCEPTED",
    "UnlockFailed": "FAILED",
    "OngoingAuthorizedTransaction": "REJECTED",
    "UnknownConnector": "FAILED",
    "NotSupported": "NOT_SUPPORTED",
    "Occupied": "EVSE_OCCUPIED",
    "Faulted": "EVSE_INOPERATIVE",
    "Unavailable": "EVSE_INOPERATIVE",
}


@dataclass(frozen=True, slots=True)
class PlannedCommand:
    """A command ready to run: where, what, and how to report back."""

    partner_id: int
    station_id: str
    command: Command
    response_url: str
    # Per-command readings of the charger's status (CANCEL_RESERVATION: Rejected means
    # the reservation is unknown).
    overrides: dict[str, str] = field(default_factory=dict)


class CommandRunner:
    def __init__(self, commands: CommandService, outbox: OutboxWorker) -> None:
        self._commands = commands
        self._outbox = outbox
        self._tasks: set[asyncio.Task[None]] = set()

    def spawn(self, planned: PlannedCommand) -> None:
        task = asyncio.create_task(self._run(planned))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _run(self, planned: PlannedCommand) -> None:
        result, message = await self._execute(planned)
        body: dict[str, object] = {"result": result}
        if message:
            body["message"] = [{"language": "en", "text": message[:512]}]
        push = Push("commands", "POST", planned.response_url, planned.response_url, body)
        await self._outbox.enqueue(planned.partner_id, push)

    async def _execute(self, planned: PlannedCommand) -> tuple[str, str | None]:
        try:
            answer = await self._commands.execute(planned.station_id, planned.command)
        except CommandTimeout as error:
            return "TIMEOUT", str(error)
        except CommandNotSupported as error:
            return "NOT_SUPPORTED", str(error)
        except CommandError as error:
            return "FAILED", str(error)
        status = answer.status or ""
        readings = CHARGER_STATUS_TO_RESULT | planned.overrides
        return readings.get(status, "FAILED"), None if status in readings else status
