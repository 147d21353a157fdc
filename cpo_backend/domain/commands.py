"""The version-neutral command service.

Every command to a charger, from the operator API, from OCPI or from Python, is one of
the dataclasses below, sent through :class:`CommandService`. The service resolves our
ids to the charger's and hands the command to the :class:`CommandTransport` that holds
the station's connection; the OCPP adapter translates it into the message of the
station's protocol version. Callers never need to know that version.

A new command is one dataclass here and one translation per protocol version.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

from cpo_backend.domain.model import TransactionStatus
from cpo_backend.domain.transactions import TransactionNotFound, TransactionService


@dataclass(frozen=True, slots=True)
class Command:
    """Base of all commands; ``name`` is what the operator API calls it."""

    name = "command"


@dataclass(frozen=True, slots=True)
class RemoteStart(Command):
    name = "remote-start"
    id_token: str
    evse_id: int | None = None
    id_token_type: str = "Central"
    remote_start_id: int | None = None
    charging_profile: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class RemoteStop(Command):
    name = "remote-stop"
    # The charger's id for the transaction; the service fills it from ours.
    charger_transaction_id: str


@dataclass(frozen=True, slots=True)
class Reset(Command):
    name = "reset"
    # soft/hard (1.6) and on_idle/immediate (2.0.1) are the same intent twice.
    kind: Literal["soft", "hard"] = "soft"
    evse_id: int | None = None


@dataclass(frozen=True, slots=True)
class UnlockConnector(Command):
    name = "unlock-connector"
    evse_id: int
    connector_id: int = 1


@dataclass(frozen=True, slots=True)
class ChangeAvailability(Command):
    name = "change-availability"
    operative: bool
    # None: the whole station.
    evse_id: int | None = None
    connector_id: int | None = None


@dataclass(frozen=True, slots=True)
class GetConfiguration(Command):
    name = "get-configuration"
    keys: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ChangeConfiguration(Command):
    name = "change-configuration"
    key: str
    value: str


@dataclass(frozen=True, slots=True)
class ClearCache(Command):
    name = "clear-cache"


@dataclass(frozen=True, slots=True)
class DataTransfer(Command):
    name = "data-transfer"
    vendor_id: str
    message_id: str | None = None
    data: str | None = None


@dataclass(frozen=True, slots=True)
class TriggerMessage(Command):
    name = "trigger-message"
    # The 1.6 names (BootNotification, Heartbeat, StatusNotification, MeterValues,
    # DiagnosticsStatusNotification, FirmwareStatusNotification).
    message: str
    evse_id: int | None = None


@dataclass(frozen=True, slots=True)
class GetDiagnostics(Command):
    name = "get-diagnostics"
    location: str
    retries: int | None = None
    retry_interval: int | None = None
    start_time: datetime | None = None
    stop_time: datetime | None = None


@dataclass(frozen=True, slots=True)
class UpdateFirmware(Command):
    name = "update-firmware"
    location: str
    retrieve_date: datetime
    retries: int | None = None
    retry_interval: int | None = None


@dataclass(frozen=True, slots=True)
class RawCall(Command):
    """Any action of the station's protocol, payload as on the wire (schema-validated)."""

    name = "raw"
    action: str
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CommandResult:
    """The charger's answer: its ``status`` when the answer has one, and the payload."""

    status: str | None
    payload: dict[str, Any]


class CommandError(Exception):
    """A command could not be carried out; ``code`` says why in one word."""

    code = "CommandFailed"


class StationOffline(CommandError):
    code = "StationOffline"


class CommandTimeout(CommandError):
    code = "Timeout"


class CommandNotSupported(CommandError):
    """The station's protocol version has no such command, or the payload breaks its schema."""

    code = "NotSupported"


class ChargerError(CommandError):
    """The charger answered with a CallError."""

    code = "CallError"

    def __init__(self, error_code: str, description: str, details: Any) -> None:
        super().__init__(f"{error_code}: {description}")
        self.error_code = error_code
        self.description = description
        self.details = details


class CommandTransport(Protocol):
    """Reaches a station's connection wherever it is (this process today)."""

    async def send(self, station_id: str, command: Command) -> CommandResult: ...


class CommandService:
    def __init__(self, transport: CommandTransport, transactions: TransactionService) -> None:
        self._transport = transport
        self._transactions = transactions

    async def execute(self, station_id: str, command: Command) -> CommandResult:
        return await self._transport.send(station_id, command)

    async def remote_stop(self, transaction_id: int) -> CommandResult:
        """Stop one of our transactions, whatever the charger calls it."""
        transaction = await self._transactions.get(transaction_id)
        if transaction.status != TransactionStatus.ACTIVE or not transaction.charger_transaction_id:
            raise TransactionNotFound(transaction_id)
        return await self.execute(
            transaction.station_id, RemoteStop(transaction.charger_transaction_id)
        )
