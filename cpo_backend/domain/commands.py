"""The version-neutral command service.

Every command to a charger, from the operator API, from OCPI or from Python, is one of
the dataclasses below, sent through :class:`CommandService`. Each is a typed request
with a typed answer: ``Reset`` is a ``Command[Acknowledgement]``, ``GetConfiguration`` a
``Command[ConfigurationValues]``. The service resolves our ids to the charger's and hands
the command to the :class:`CommandTransport` that holds the station's connection; the
OCPP adapter translates it into the message of the station's protocol version and the
charger's answer back into the result type. Callers never need to know that version,
and no protocol payload crosses into the domain (the raw frames stay in the message log).

A new command is one dataclass here (with its result type) and one translation per
protocol version, each found by the command's name.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar, Generic, Literal, Protocol, TypeVar, cast, get_args

from cpo_backend.domain.charging import ChargingProfile
from cpo_backend.domain.errors import CpoError, ErrorKind
from cpo_backend.domain.model import TransactionStatus
from cpo_backend.domain.transactions import (
    TransactionFilter,
    TransactionNotActive,
    TransactionService,
)


class CommandStatus(StrEnum):
    """What a charger said to a command, in the words both protocol versions share.

    The union of the status enums of the answers to the commands below (the schemas of
    both versions, checked by tests/test_command_types.py), so a translation never has
    to invent a word.
    """

    ACCEPTED = "Accepted"
    REJECTED = "Rejected"
    SCHEDULED = "Scheduled"
    REBOOT_REQUIRED = "RebootRequired"
    NOT_SUPPORTED = "NotSupported"
    NOT_IMPLEMENTED = "NotImplemented"
    FAILED = "Failed"
    EMPTY_RESULT_SET = "EmptyResultSet"
    UNLOCKED = "Unlocked"
    UNLOCK_FAILED = "UnlockFailed"
    ONGOING_AUTHORIZED_TRANSACTION = "OngoingAuthorizedTransaction"
    UNKNOWN_CONNECTOR = "UnknownConnector"
    OCCUPIED = "Occupied"
    FAULTED = "Faulted"
    UNAVAILABLE = "Unavailable"
    UNKNOWN_MESSAGE_ID = "UnknownMessageId"
    UNKNOWN_VENDOR_ID = "UnknownVendorId"
    ACCEPTED_CANCELED = "AcceptedCanceled"
    INVALID_CERTIFICATE = "InvalidCertificate"
    REVOKED_CERTIFICATE = "RevokedCertificate"


class VariableStatus(StrEnum):
    """The answer about one device-model variable read or set."""

    ACCEPTED = "Accepted"
    REJECTED = "Rejected"
    REBOOT_REQUIRED = "RebootRequired"
    UNKNOWN_COMPONENT = "UnknownComponent"
    UNKNOWN_VARIABLE = "UnknownVariable"
    NOT_SUPPORTED_ATTRIBUTE_TYPE = "NotSupportedAttributeType"


@dataclass(frozen=True, slots=True)
class Acknowledgement:
    """The answer of a command that is carried out or refused as a whole."""

    status: CommandStatus
    # Why, when the charger said (2.0.1 statusInfo reasonCode and additionalInfo).
    reason: str | None = None


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
class VariableResult:
    """A station's answer about one variable: read (``value``) or set (the ``value`` asked)."""

    variable: VariableRef
    status: VariableStatus
    value: str | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class VariableResults:
    results: tuple[VariableResult, ...]


@dataclass(frozen=True, slots=True)
class ConfigurationValue:
    key: str
    value: str | None
    readonly: bool


@dataclass(frozen=True, slots=True)
class ConfigurationValues:
    """Configuration keys read; on a 2.0.1 station each key is a device-model variable,
    and ``variables`` has what the station said about each."""

    values: tuple[ConfigurationValue, ...]
    unknown_keys: tuple[str, ...] = ()
    variables: tuple[VariableResult, ...] = ()


@dataclass(frozen=True, slots=True)
class ConfigurationChange:
    """A configuration key set; on a 2.0.1 station, ``variable`` is the one it stands for."""

    status: CommandStatus
    variable: VariableResult | None = None


@dataclass(frozen=True, slots=True)
class TransactionState:
    """Whether the charger still has the transaction and still queues its messages."""

    # None: the question named no transaction.
    ongoing: bool | None
    messages_in_queue: bool


@dataclass(frozen=True, slots=True)
class DataTransferAnswer:
    status: CommandStatus
    data: str | None = None


@dataclass(frozen=True, slots=True)
class DiagnosticsUpload:
    """Whether the charger will upload diagnostics, and under which file name."""

    status: CommandStatus
    file_name: str | None = None


@dataclass(frozen=True, slots=True)
class RawAnswer:
    """The answer to a :class:`RawCall`, as on the wire: the one place a payload is raw."""

    payload: dict[str, Any]


CommandResult = (
    Acknowledgement
    | VariableResults
    | ConfigurationValues
    | ConfigurationChange
    | TransactionState
    | DataTransferAnswer
    | DiagnosticsUpload
    | RawAnswer
)

Result = TypeVar("Result", bound=CommandResult, covariant=True)
# A command's result type, in the signatures that pass a command through.
Answer = TypeVar("Answer", bound=CommandResult)


@dataclass(frozen=True, slots=True)
class Command(Generic[Result]):
    """Base of all commands; ``name`` is what the operator API calls it."""

    name: ClassVar[str] = "command"

    def result_type(self: Command[Answer]) -> type[Answer]:
        """The type of this command's answer."""
        # The class's own ``Command[...]`` base is what ``Answer`` binds to.
        return cast("type[Answer]", result_type_of(type(self)))


def result_type_of(command_type: type[Command[CommandResult]]) -> type[CommandResult]:
    """What a kind of command answers, read off its ``Command[...]`` base."""
    for klass in command_type.__mro__:
        for base in getattr(klass, "__orig_bases__", ()):
            args = get_args(base)
            if args and isinstance(args[0], type):
                found: type[CommandResult] = args[0]
                return found
    raise TypeError(f"{command_type.__name__} does not say what it answers")


class TriggeredMessage(StrEnum):
    """A message a charger can be asked to send now (TriggerMessage)."""

    BOOT_NOTIFICATION = "BootNotification"
    HEARTBEAT = "Heartbeat"
    STATUS_NOTIFICATION = "StatusNotification"
    METER_VALUES = "MeterValues"
    DIAGNOSTICS_STATUS = "DiagnosticsStatusNotification"
    FIRMWARE_STATUS = "FirmwareStatusNotification"
    # OCPP 2.0.1 only.
    TRANSACTION_EVENT = "TransactionEvent"
    SIGN_CHARGING_STATION_CERTIFICATE = "SignChargingStationCertificate"


@dataclass(frozen=True, slots=True)
class RemoteStart(Command[Acknowledgement]):
    name = "remote-start"
    id_token: str
    evse_id: int | None = None
    id_token_type: str = "Central"
    remote_start_id: int | None = None
    charging_profile: ChargingProfile | None = None


@dataclass(frozen=True, slots=True)
class RemoteStop(Command[Acknowledgement]):
    name = "remote-stop"
    # The charger's id for the transaction; the service fills it from ours.
    charger_transaction_id: str


@dataclass(frozen=True, slots=True)
class Reset(Command[Acknowledgement]):
    name = "reset"
    # soft: once transactions have ended; hard: now.
    kind: Literal["soft", "hard"] = "soft"
    evse_id: int | None = None


@dataclass(frozen=True, slots=True)
class UnlockConnector(Command[Acknowledgement]):
    name = "unlock-connector"
    evse_id: int
    connector_id: int = 1


@dataclass(frozen=True, slots=True)
class ChangeAvailability(Command[Acknowledgement]):
    name = "change-availability"
    operative: bool
    # None: the whole station.
    evse_id: int | None = None
    connector_id: int | None = None


@dataclass(frozen=True, slots=True)
class GetConfiguration(Command[ConfigurationValues]):
    """Read configuration keys (on a 2.0.1 station, the variables they stand for)."""

    name = "get-configuration"
    keys: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ChangeConfiguration(Command[ConfigurationChange]):
    """Set a configuration key (on a 2.0.1 station, the variable it stands for)."""

    name = "change-configuration"
    key: str
    value: str


@dataclass(frozen=True, slots=True)
class ClearCache(Command[Acknowledgement]):
    name = "clear-cache"


@dataclass(frozen=True, slots=True)
class DataTransfer(Command[DataTransferAnswer]):
    name = "data-transfer"
    vendor_id: str
    message_id: str | None = None
    data: str | None = None


@dataclass(frozen=True, slots=True)
class TriggerMessage(Command[Acknowledgement]):
    name = "trigger-message"
    message: TriggeredMessage
    evse_id: int | None = None


@dataclass(frozen=True, slots=True)
class GetDiagnostics(Command[DiagnosticsUpload]):
    name = "get-diagnostics"
    location: str
    retries: int | None = None
    retry_interval: int | None = None
    start_time: datetime | None = None
    stop_time: datetime | None = None


@dataclass(frozen=True, slots=True)
class UpdateFirmware(Command[Acknowledgement]):
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
class GetVariables(Command[VariableResults]):
    """Read device-model variables, several per call, with a result per variable."""

    name = "get-variables"
    variables: tuple[VariableRef, ...]


@dataclass(frozen=True, slots=True)
class SetVariables(Command[VariableResults]):
    """Set device-model variables (each ``value`` given), with a result per variable."""

    name = "set-variables"
    variables: tuple[VariableRef, ...]


@dataclass(frozen=True, slots=True)
class GetBaseReport(Command[Acknowledgement]):
    """Ask for a device-model report; it arrives as NotifyReport parts under ``request_id``."""

    name = "get-base-report"
    report_base: Literal["ConfigurationInventory", "FullInventory", "SummaryInventory"] = (
        "FullInventory"
    )
    request_id: int = field(default_factory=next_request_id)


@dataclass(frozen=True, slots=True)
class GetReport(Command[Acknowledgement]):
    """Ask for a report of some variables or component criteria (NotifyReport parts)."""

    name = "get-report"
    variables: tuple[VariableRef, ...] = ()
    criteria: tuple[Literal["Active", "Available", "Enabled", "Problem"], ...] = ()
    request_id: int = field(default_factory=next_request_id)


@dataclass(frozen=True, slots=True)
class GetTransactionStatus(Command[TransactionState]):
    """Whether a transaction is ongoing and whether the charger still queues its messages."""

    name = "get-transaction-status"
    charger_transaction_id: str | None = None


@dataclass(frozen=True, slots=True)
class Vpn:
    server: str
    user: str
    password: str
    key: str
    kind: Literal["IKEv2", "IPSec", "L2TP", "PPTP"]
    group: str | None = None


@dataclass(frozen=True, slots=True)
class Apn:
    apn: str
    authentication: Literal["CHAP", "NONE", "PAP", "AUTO"]
    user_name: str | None = None
    password: str | None = None
    sim_pin: int | None = None
    preferred_network: str | None = None
    use_only_preferred_network: bool | None = None


@dataclass(frozen=True, slots=True)
class NetworkProfile:
    """How a station reaches a CSMS: one connection slot of its network configuration."""

    csms_url: str
    security_profile: int
    interface: Literal[
        "Wired0", "Wired1", "Wired2", "Wired3", "Wireless0", "Wireless1", "Wireless2", "Wireless3"
    ]
    message_timeout: int = 30
    ocpp_version: Literal["OCPP12", "OCPP15", "OCPP16", "OCPP20"] = "OCPP20"
    transport: Literal["JSON", "SOAP"] = "JSON"
    vpn: Vpn | None = None
    apn: Apn | None = None


@dataclass(frozen=True, slots=True)
class SetNetworkProfile(Command[Acknowledgement]):
    """Store a connection profile in one of the station's configuration slots."""

    name = "set-network-profile"
    configuration_slot: int
    profile: NetworkProfile


@dataclass(frozen=True, slots=True)
class ReserveNow(Command[Acknowledgement]):
    """Reserve an EVSE (or, with ``evse_id`` None, any) for a token until ``expires_at``."""

    name = "reserve-now"
    reservation_id: int
    id_token: str
    expires_at: datetime
    evse_id: int | None = None
    id_token_type: str = "Central"
    group_id: str | None = None


@dataclass(frozen=True, slots=True)
class CancelReservation(Command[Acknowledgement]):
    name = "cancel-reservation"
    reservation_id: int


@dataclass(frozen=True, slots=True)
class RawCall(Command[RawAnswer]):
    """Any action of the station's protocol, payload as on the wire (schema-validated)."""

    name = "raw"
    action: str
    payload: dict[str, Any] = field(default_factory=dict)


class CommandError(CpoError):
    """A command could not be carried out (the base its callers catch)."""

    kind = ErrorKind.UPSTREAM
    code = "command_failed"


class StationOffline(CommandError):
    kind = ErrorKind.UNAVAILABLE
    code = "station_offline"


class CommandTimeout(CommandError):
    kind = ErrorKind.TIMEOUT
    code = "charger_timeout"


class CommandNotSupported(CommandError):
    """The station's protocol version has no such command, or the payload breaks its schema."""

    kind = ErrorKind.INVALID
    code = "command_not_supported"


class ChargerError(CommandError):
    """The charger answered with a CallError."""

    code = "charger_error"

    def __init__(self, station_id: str, error_code: str, description: str, details: Any) -> None:
        super().__init__(
            f"station {station_id} answered {error_code}: {description}", station=station_id
        )
        self.error_code = error_code
        self.description = description
        self.details = details


class CommandTransport(Protocol):
    """Reaches a station's connection wherever it is (this process today)."""

    async def send(self, station_id: str, command: Command[Answer]) -> Answer: ...


ResultListener = Callable[[str, "Command[CommandResult]", CommandResult], Awaitable[None]]


class CommandService:
    def __init__(
        self,
        transport: CommandTransport,
        transactions: TransactionService,
        result_listeners: Sequence[ResultListener] = (),
    ) -> None:
        self._transport = transport
        self._transactions = transactions
        # Told of every answer before its caller is (the device model keeps the values
        # a station reads or sets, whoever asked).
        self._result_listeners = tuple(result_listeners)

    async def execute(self, station_id: str, command: Command[Answer]) -> Answer:
        if isinstance(command, RemoteStart):
            # Numbered here, not by the protocol adapter, so that the token can be found
            # again when the charger's start names only this number (OCPP 2.0.1).
            remote_start_id = command.remote_start_id or next_request_id()
            await self._transactions.expect_remote_start(
                station_id, remote_start_id, command.id_token
            )
            # Still the command it was, with its number: the same result type.
            command = cast("Command[Answer]", replace(command, remote_start_id=remote_start_id))
        result = await self._transport.send(station_id, command)
        for listener in self._result_listeners:
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
            if not result.messages_in_queue and result.ongoing is not True:
                over.append(transaction.id)
        if over:
            await self._transactions.reconcile_after_boot(station_id, only=over)

    async def remote_stop(self, transaction_id: int) -> Acknowledgement:
        """Stop one of our transactions, whatever the charger calls it."""
        transaction = await self._transactions.get(transaction_id)
        if transaction.status != TransactionStatus.ACTIVE or not transaction.charger_transaction_id:
            raise TransactionNotActive(
                transaction_id, transaction.status.value, transaction.stopped_at
            )
        return await self.execute(
            transaction.station_id, RemoteStop(transaction.charger_transaction_id)
        )
