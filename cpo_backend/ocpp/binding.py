"""What a protocol version plugs into the central system: handlers and command translation."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from cpo_backend.config import OcppSettings
from cpo_backend.domain.commands import Command, CommandResult
from cpo_backend.domain.model import Registration
from cpo_backend.domain.stations import StationService
from cpo_backend.domain.tokens import TokenService
from cpo_backend.domain.transactions import TransactionService
from cpo_backend.ocpp.protocol import OcppVersion


@dataclass(frozen=True, slots=True)
class OcppServices:
    """The domain services a handler may call."""

    stations: StationService
    tokens: TokenService
    transactions: TransactionService
    settings: OcppSettings


@dataclass(slots=True)
class StationSession:
    """Per-connection state shared by a station's handlers."""

    station_id: str
    registration: Registration
    services: OcppServices
    # Work a handler wants started once its answer is on the wire: a call to the station
    # (GetTransactionStatus after a boot) must never overtake the answer it follows.
    after_reply: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    # Messages the station agreed to send at our TriggerMessage and has not sent yet: a
    # BootNotification we asked for is no reboot, and must not end its transactions.
    triggered: set[str] = field(default_factory=set)

    def answers_trigger(self, action: str) -> bool:
        """Whether this ``action`` from the station is one we triggered (and forget it)."""
        if action not in self.triggered:
            return False
        self.triggered.discard(action)
        return True


class ProtocolBinding(Protocol):
    """What answers a station's calls in one version (built once the services exist)."""

    version: OcppVersion

    def handlers(self, session: StationSession) -> object:
        """An object whose ``@on`` methods answer this station's calls."""
        ...


class CommandTranslation(Protocol):
    """Neutral commands to one version's calls and its answers back: a version's
    ``commands`` module. Apart from the handlers so that the command service, which the
    handlers use, can be built before them."""

    def translate(self, command: Command[CommandResult]) -> tuple[str, dict[str, Any]]:
        """The action and payload that carry ``command`` in this version.

        Raises :class:`~cpo_backend.domain.commands.CommandNotSupported` when the
        version has no such command.
        """
        ...

    def interpret(self, command: Command[CommandResult], answer: dict[str, Any]) -> CommandResult:
        """The charger's (schema-valid) answer as the command's typed result."""
        ...
