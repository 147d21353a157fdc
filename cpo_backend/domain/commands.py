"""The version-neutral command service.

Every command to a charger, from the operator API, from OCPI or from Python, is one of
the dataclasses below, sent through :class:`CommandService`. The service resolves our
ids to the charger's and hands the command to the :class:`CommandTransport` that holds
the station's connection; the OCPP adapter translates it into the message of the
station's protocol version. Callers never need to know that version.

A new command is one dataclass here and one translation per protocol version.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal, Protocol

from cpo_backend.domain.model import TransactionStatus
from cpo_backend.domain.transactions import (
    TransactionFilter,
    TransactionNotActive,
    TransactionService,
)


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


def next_request_id() -> int:
    """A request id for reports and logs: unique in this process, unlikely to repeat later."""
    return next(_request_ids)


# Seeded from the clock so that a restarted back-end does not reuse recent ids.
_request_ids = itertools.count(int(time.time() * 1000) % 1_000_000_000)


@dataclass(frozen=True, slots=True)
class VariableRef:
    """A device-model variable (OCPP 2.0.1): component and variable, optionally scoped."""

    component: str
    variable: str
    # SetVariables only: the value to set.
    value: str | None = None
    attribute_type: Literal["Actual", "Target", "MinSet", "MaxSet"] = "Actual"
    component_instance: str | None = None
    variable_instance: str | None = None
    evse_id: int | None = None
    connector_id: int | None = None


@dataclass(frozen=True, slots=True)
class GetVariables(Command):
    """Read device-model variables, several per call, with a result per variable."""

    name = "get-variables"
    variables: tuple[VariableRef, ...]


@dataclass(frozen=True, slots=True)
class SetVariables(Command):
    """Set device-model variables (each ``value`` given), with a result per variable."""

    name = "set-variables"
    variables: tuple[VariableRef, ...]


@dataclass(frozen=True, slots=True)
class GetBaseReport(Command):
    """Ask for a device-model report; it arrives as NotifyReport parts under ``request_id``."""

    name = "get-base-report"
    report_base: Literal["ConfigurationInventory", "FullInventory", "SummaryInventory"] = (
        "FullInventory"
    )
    request_id: int = field(default_factory=next_request_id)


@dataclass(frozen=True, slots=True)
class GetReport(Command):
    """Ask for a report of some variables or component criteria (NotifyReport parts)."""

    name = "get-report"
    variables: tuple[VariableRef, ...] = ()
    criteria: tuple[Literal["Active", "Available", "Enabled", "Problem"], ...] = ()
    request_id: int = field(default_factory=next_request_id)


@dataclass(frozen=True, slots=True)
class GetTransactionStatus(Command):
    """Whether a transaction is ongoing and whether the charger still queues its messages."""

    name = "get-transaction-status"
    charger_transaction_id: str | None = None


@dataclass(frozen=True, slots=True)
class SetNetworkProfile(Command):
    """Store a connection profile (2.0.1 NetworkConnectionProfile, camelCase) in a slot."""

    name = "set-network-profile"
    configuration_slot: int
    connection_data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ReserveNow(Command):
    """Reserve an EVSE (or, with ``evse_id`` None, any) for a token until ``expires_at``."""

    name = "reserve-now"
    reservation_id: int
    id_token: str
    expires_at: datetime
    evse_id: int | None = None
    id_token_type: str = "Central"
    group_id: str | None = None


@dataclass(frozen=True, slots=True)
class CancelReservation(Command):
    name = "cancel-reservation"
    reservation_id: int


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


ResultListener = Callable[[str, "Command", "CommandResult"], Awaitable[None]]


class CommandService:
    def __init__(self, transport: CommandTransport, transactions: TransactionService) -> None:
        self._transport = transport
        self._transactions = transactions
        # Told of every answer before its caller is (the device model keeps the values
        # a station reads or sets, whoever asked).
        self.result_listeners: list[ResultListener] = []

    async def execute(self, station_id: str, command: Command) -> CommandResult:
        if isinstance(command, RemoteStart):
            # Numbered here, not by the protocol adapter, so that the token can be found
            # again when the charger's start names only this number (OCPP 2.0.1).
            remote_start_id = command.remote_start_id or next_request_id()
            command = replace(command, remote_start_id=remote_start_id)
            await self._transactions.expect_remote_start(
                station_id, remote_start_id, command.id_token
            )
        result = await self._transport.send(station_id, command)
        for listener in self.result_listeners:
            await listener(station_id, command, result)
        return result

    async def settle_after_boot(self, station_id: str) -> None:
        """Close what a reboot ended, but only once the charger says nothing is pending.

        Each transaction still active is asked about (GetTransactionStatus). One that is
        ongoing stays open; so does one whose messages the charger still queues: its
        Ended event will bring the real values. The others are reconciled. A charger that
        cannot answer (1.6, an error, a timeout) gets the plain reconciliation of
        :meth:`TransactionService.reconcile_after_boot`; an offline one keeps them open.
        """
        active = await self._transactions.find(
            TransactionFilter(station_id=station_id, status=TransactionStatus.ACTIVE, limit=1000)
        )
        over: list[int] = []
        for transaction in active:
            try:
                result = await self.execute(
                    station_id, GetTransactionStatus(transaction.charger_transaction_id)
                )
            except StationOffline:
                return
            except CommandError:
                over.append(transaction.id)
                continue
            queued = result.payload.get("messagesInQueue") is True
            if not queued and result.payload.get("ongoingIndicator") is not True:
                over.append(transaction.id)
        if over:
            await self._transactions.reconcile_after_boot(station_id, only=over)

    async def remote_stop(self, transaction_id: int) -> CommandResult:
        """Stop one of our transactions, whatever the charger calls it."""
        transaction = await self._transactions.get(transaction_id)
        if transaction.status != TransactionStatus.ACTIVE or not transaction.charger_transaction_id:
            raise TransactionNotActive(transaction_id)
        return await self.execute(
            transaction.station_id, RemoteStop(transaction.charger_transaction_id)
        )
