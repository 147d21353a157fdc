"""OCPP 2.0.1: the charging station's calls, answered.

Handlers translate between 2.0.1 payloads and the domain; the rules about stations,
tokens, transactions and device models live in the domain services, shared with 1.6.

Until a BootNotification is Accepted, a station may only be provisioned (2.0.1 B02/B03):
any other call is refused with ``SecurityError``, except BootNotification itself and,
while Pending, the NotifyReport parts of a report the CSMS asked for.

Every charger-to-CSMS message of 2.0.1 is answered with a schema-valid payload; those we
only keep (notifications about firmware, logs, monitoring, charging limits, ISO 15118
certificates ...) are stored as station events for the operator.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import structlog

from cpo_backend.domain.commands import CommandService
from cpo_backend.domain.devicemodel import DeviceModelService
from cpo_backend.domain.model import Registration
from cpo_backend.domain.stations import BootInfo, StatusReport
from cpo_backend.domain.time import format_utc, parse_timestamp, utc_now
from cpo_backend.domain.txevents import TransactionEventService
from cpo_backend.ocpp.binding import StationSession
from cpo_backend.ocpp.protocol import ErrorKind, OcppError
from cpo_backend.ocpp.routing import on, on_each
from cpo_backend.ocpp.v201.payloads import (
    ACCEPTED_INFO,
    NO_AUTHORIZATION,
    id_token_info,
    id_token_value,
    sampled_values,
    transaction_event,
)
from cpo_backend.ocpp.v201.variables import reported_variable

log = structlog.get_logger(__name__)

PROTOCOL = "2.0.1"

HandlerMethod = Callable[[Any, dict[str, Any]], Awaitable[dict[str, Any]]]

_ACCEPTED_ONLY = frozenset({Registration.ACCEPTED})
_PROVISIONING = frozenset({Registration.ACCEPTED, Registration.PENDING})
_ALWAYS = frozenset(Registration)

# Messages we keep as station events only: the answer, and the field with their own time.
STORED: dict[str, tuple[dict[str, Any], str | None]] = {
    "SecurityEventNotification": ({}, "timestamp"),
    "DataTransfer": ({"status": "UnknownVendorId"}, None),
    "FirmwareStatusNotification": ({}, None),
    "LogStatusNotification": ({}, None),
    "NotifyEvent": ({}, "generatedAt"),
    "NotifyMonitoringReport": ({}, "generatedAt"),
    "NotifyChargingLimit": ({}, None),
    # We compute no ISO 15118 schedules: the EV's needs are noted, not planned for.
    "NotifyEVChargingNeeds": ({"status": "Rejected"}, None),
    "NotifyEVChargingSchedule": ({"status": "Accepted"}, "timeBase"),
    "NotifyDisplayMessages": ({}, None),
    "NotifyCustomerInformation": ({}, "generatedAt"),
    "ReportChargingProfiles": ({}, None),
    "ReservationStatusUpdate": ({}, None),
    "ClearedChargingLimit": ({}, None),
    "PublishFirmwareStatusNotification": ({}, None),
    # No certificate authority or OCSP responder behind this CSMS (yet): say so.
    "Get15118EVCertificate": ({"status": "Failed", "exiResponse": ""}, None),
    "GetCertificateStatus": ({"status": "Failed"}, None),
    "SignCertificate": ({"status": "Rejected"}, None),
}


@dataclass(frozen=True, slots=True)
class Ocpp201Services:
    """What 2.0.1 handlers need beyond :class:`~cpo_backend.ocpp.binding.OcppServices`."""

    device_model: DeviceModelService
    transaction_events: TransactionEventService
    # After a boot, GetTransactionStatus for the transactions the station still had.
    commands: CommandService


def _admit(session: StationSession, action: str, allowed: frozenset[Registration]) -> None:
    """Refuse the call with SecurityError unless the station's registration allows it."""
    if session.registration not in allowed:
        raise OcppError(
            ErrorKind.SECURITY,
            f"{action} is not allowed before the station is accepted "
            f"(registration {session.registration.value})",
        )


def handles(
    action: str, allowed: frozenset[Registration] = _ACCEPTED_ONLY
) -> Callable[[HandlerMethod], HandlerMethod]:
    """``@on(action)``, refusing the call with SecurityError unless the registration allows."""

    def mark(method: HandlerMethod) -> HandlerMethod:
        @functools.wraps(method)
        async def gated(self: StationHandlers, payload: dict[str, Any]) -> dict[str, Any]:
            _admit(self.session, action, allowed)
            return await method(self, payload)

        return on(action)(gated)

    return mark


class StationHandlers:
    """The CSMS side of one 2.0.1 charging station's calls."""

    def __init__(self, session: StationSession, extra: Ocpp201Services) -> None:
        self.session = session
        self._services = session.services
        self._extra = extra
        self._station_id = session.station_id

    # -- B provisioning ----------------------------------------------------------------

    @handles("BootNotification", _ALWAYS)
    async def boot_notification(self, payload: dict[str, Any]) -> dict[str, Any]:
        station = payload["chargingStation"]
        modem = station.get("modem") or {}
        info = BootInfo(
            vendor=station["vendorName"],
            model=station["model"],
            serial_number=station.get("serialNumber"),
            firmware_version=station.get("firmwareVersion"),
            iccid=modem.get("iccid"),
            imsi=modem.get("imsi"),
        )
        registration = await self._services.stations.boot(self._station_id, info, PROTOCOL)
        self.session.registration = registration
        settings = self._services.settings
        reason = payload["reason"]
        triggered = self.session.answers_trigger("BootNotification")
        if registration == Registration.ACCEPTED and not (triggered or reason == "Triggered"):
            # Asks the station about its open transactions: after our answer, not in it.
            # A boot we asked for (TriggerMessage) is no reboot: it ended nothing.
            self.session.after_reply.append(
                lambda: self._extra.commands.settle_after_boot(self._station_id)
            )
        if registration == Registration.ACCEPTED:
            interval = settings.heartbeat_interval
        else:
            interval = settings.pending_retry_interval
        return {
            "status": registration.value,
            "currentTime": format_utc(utc_now()),
            "interval": interval,
        }

    @handles("NotifyReport", _PROVISIONING)
    async def notify_report(self, payload: dict[str, Any]) -> dict[str, Any]:
        await self._extra.device_model.record_report_part(
            self._station_id,
            payload["requestId"],
            payload["seqNo"],
            payload.get("tbc", False),
            parse_timestamp(payload["generatedAt"]),
            [reported_variable(data) for data in payload.get("reportData") or []],
        )
        return {}

    # -- G availability ----------------------------------------------------------------

    @handles("Heartbeat")
    async def heartbeat(self, _payload: dict[str, Any]) -> dict[str, Any]:
        return {"currentTime": format_utc(utc_now())}

    @handles("StatusNotification")
    async def status_notification(self, payload: dict[str, Any]) -> dict[str, Any]:
        await self._services.stations.status(
            self._station_id,
            StatusReport(
                evse_id=payload["evseId"],
                connector_id=payload["connectorId"],
                status=payload["connectorStatus"],
                status_at=parse_timestamp(payload["timestamp"]),
            ),
        )
        return {}

    # -- C authorization ---------------------------------------------------------------

    @handles("Authorize")
    async def authorize(self, payload: dict[str, Any]) -> dict[str, Any]:
        return {"idTokenInfo": await self._verdict(payload["idToken"])}

    async def _verdict(self, id_token: dict[str, Any]) -> dict[str, Any]:
        # Authorize names no EVSE: the driver is somewhere at this station. (A
        # TransactionEvent's token is judged, with its EVSE, in transaction_events.)
        if id_token["type"] == NO_AUTHORIZATION:
            # The station charges without identification: nothing to refuse.
            return id_token_info(ACCEPTED_INFO)
        info = await self._services.tokens.authorize(
            id_token_value(id_token), station_id=self._station_id
        )
        return id_token_info(info)

    # -- E transactions, J meter values ------------------------------------------------

    @handles("TransactionEvent")
    async def transaction_event(self, payload: dict[str, Any]) -> dict[str, Any]:
        outcome = await self._extra.transaction_events.record(
            transaction_event(self._station_id, payload)
        )
        id_token = payload.get("idToken")
        if id_token is None:
            return {}
        if outcome.id_token_info is None:
            return {"idTokenInfo": await self._verdict(id_token)}
        return {"idTokenInfo": id_token_info(outcome.id_token_info)}

    @handles("MeterValues")
    async def meter_values(self, payload: dict[str, Any]) -> dict[str, Any]:
        # Not tied to a transaction (2.0.1 sends those in TransactionEvent); connector 0
        # stands for the EVSE as a whole, EVSE 0 for the station's main meter.
        samples = [s for value in payload["meterValue"] for s in sampled_values(value)]
        await self._services.transactions.meter_values(
            self._station_id, payload["evseId"], 0, None, samples
        )
        return {}

    # -- kept as station events --------------------------------------------------------

    @on_each(STORED)
    async def keep(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Store a message of :data:`STORED` as a station event; answer as STORED says."""
        _admit(self.session, action, _ACCEPTED_ONLY)
        answer, time_field = STORED[action]
        moment = payload.get(time_field) if time_field else None
        await self._services.stations.record_event(
            self._station_id, action, payload, parse_timestamp(moment) if moment else None
        )
        return dict(answer)
