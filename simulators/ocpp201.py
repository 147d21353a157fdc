"""A scriptable OCPP 2.0.1 charging station with EVSEs, transactions and offline buffering.

Typical test use::

    async with connect("ws://127.0.0.1:9000/ocpp", "CS_1", evses=2) as cs:
        await cs.start_up()
        session = await cs.plug_in_and_charge(1, "TOKEN1", duration=2)
        await cs.disconnect()                 # TransactionEvents now queue, offline=true
        await cs.reconnect()                  # ...and are replayed in order

Same hooks as the 1.6 simulator (``override``, ``silence``, ``received``/``wait_for``,
``sent``/``wait_sent``, ``send_raw``, ``call_raw``, ``wait_idle``).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from ssl import SSLContext
from typing import Any

from ocpp.v201 import call, call_result
from websockets.exceptions import ConnectionClosed

from simulators.common import handles, utc_now
from simulators.device_model import DeviceModel, default_device_model
from simulators.outlet import ChargingSession, Meter, Outlet, Reservation, charge, parse_measurands
from simulators.settings import Setting
from simulators.station import Station

ACCEPTED = "Accepted"
REJECTED = "Rejected"

STOP_TRIGGERS = {
    "Local": "StopAuthorized",
    "Remote": "RemoteStop",
    "DeAuthorized": "Deauthorized",
    "ImmediateReset": "ResetCommand",
    "EVDisconnected": "EVCommunicationLost",
    "EnergyLimitReached": "EnergyLimitReached",
    "TimeLimitReached": "TimeLimitReached",
}
"""The triggerReason of the Ended event for each stoppedReason (else AbnormalCondition)."""


@dataclass
class Evse(Outlet[str]):
    """One EVSE; its connectors all share its status.

    ``seq_no`` is the seqNo of the transaction's next event; ``begin_meter_value`` the
    meter values its Started carried (the ``Transaction.Begin`` sample), which a station
    that repeats them in its Ended sends again exactly as they were.
    """

    evse_id: int = 1
    connectors: int = 1
    seq_no: int = 0
    charging_state: str = "Idle"
    begin_meter_value: list[Mapping[str, Any]] = field(default_factory=list)


def id_token(token: str, token_type: str = "ISO14443") -> dict[str, str]:
    """An IdTokenType in the snake_case the ``ocpp`` dataclasses expect."""
    return {"id_token": token, "type": token_type}


def _accepted(response: Any) -> bool:
    """Whether a response carrying an optional ``id_token_info`` accepts the token."""
    info = getattr(response, "id_token_info", None)
    return info is None or info.get("status") == ACCEPTED


class ChargingStation201(Station[Evse]):
    """A simulated OCPP 2.0.1 charging station with ``evses`` EVSEs.

    ``variables`` overrides device-model values, keyed ``(component, variable)``, e.g.
    ``{("SampledDataCtrlr", "TxUpdatedInterval"): "1"}``.

    Behaviours of third-party stations that the back-end must survive, each off by
    default:

    ``begin_and_end_in_ended``
        The Ended event's meterValue carries the Started's ``Transaction.Begin`` sample
        again (same timestamp, same value), then the ``Transaction.End`` sample, as the
        SAP e-mobility simulator and MicroOcpp do.
    ``reuse_seq_no``
        seqNo is never advanced: every TransactionEvent of every transaction is sent
        with ``seqNo: 0``, as solidstudiosh's VCP does.
    ``boot_on_reconnect``
        After every :meth:`reconnect` the station sends a BootNotification (reason
        PowerUp) before anything else, then its queued events, then its statuses, yet it
        did not reboot: its transactions go on, with the same transaction ids, until
        their Ended, as stations that treat every websocket session as a power-up do
        (issue 9's fleet run met them).
    ``remote_start_without_id_token``
        The transaction of a RequestStartTransaction is reported with
        ``transactionInfo.remoteStartId`` (in its Started) but no ``idToken`` in any
        event, as some stations do when ``AuthorizeRemoteStart`` is false: the driver is
        known only from the request the CSMS sent.
    """

    default_subprotocols = ("ocpp2.0.1",)
    _ocpp_version = "2.0.1"
    _call = call
    _call_result = call_result

    def __init__(
        self,
        cp_id: str,
        *,
        evses: int = 2,
        connectors_per_evse: int = 1,
        password: str | None = None,
        response_timeout: float = 30.0,
        vendor: str = "CPO-Sim",
        model: str = "Sim-201",
        firmware_version: str = "1.0.0",
        power_w: float = 11_000.0,
        variables: Mapping[tuple[str, str], str] | None = None,
        begin_and_end_in_ended: bool = False,
        reuse_seq_no: bool = False,
        boot_on_reconnect: bool = False,
        remote_start_without_id_token: bool = False,
    ) -> None:
        super().__init__(cp_id, password=password, response_timeout=response_timeout)
        self.begin_and_end_in_ended = begin_and_end_in_ended
        self.reuse_seq_no = reuse_seq_no
        self.boot_on_reconnect = boot_on_reconnect
        self.remote_start_without_id_token = remote_start_without_id_token
        self.vendor, self.model, self.firmware_version = vendor, model, firmware_version
        self.outlets = {
            n: Evse(evse_id=n, connectors=connectors_per_evse, meter=Meter(power_w=power_w))
            for n in range(1, evses + 1)
        }
        self.device_model = DeviceModel(
            default_device_model(cp_id, vendor, model, security_profile=1 if password else 0)
        )
        for key, value in (variables or {}).items():
            self.device_model[key].value = value
        self.registration_status: str | None = None
        self.offline_queue: list[Any] = []
        self.network_profiles: dict[int, dict[str, Any]] = {}
        self._reset_scheduled = False

    # -- state helpers ----------------------------------------------------------------

    @property
    def evses(self) -> dict[int, Evse]:
        """The EVSEs by id."""
        return self.outlets

    def evse(self, evse_id: int) -> Evse:
        """The EVSE ``evse_id``; KeyError if there is none."""
        return self.outlets[evse_id]

    def heartbeat_setting(self) -> Setting:
        return self.device_model["OCPPCommCtrlr", "HeartbeatInterval"]

    def sample_interval_setting(self) -> Setting:
        return self.device_model["SampledDataCtrlr", "TxUpdatedInterval"]

    def sample(
        self, evse_id: int, context: str = "Sample.Periodic", measurands: str | None = None
    ) -> dict[str, Any]:
        """One MeterValue of the EVSE; measurands default to ``TxUpdatedMeasurands``."""
        names = measurands or self.device_model["SampledDataCtrlr", "TxUpdatedMeasurands"].value
        return {
            "timestamp": utc_now(),
            "sampled_value": [
                {
                    "value": s.value,
                    "context": context,
                    "measurand": s.measurand,
                    "unit_of_measure": {"unit": s.unit},
                    "location": "Outlet",
                    **({"phase": s.phase} if s.phase else {}),
                }
                for s in self.evse(evse_id).meter.samples(parse_measurands(names) or [])
            ],
        }

    def _context_sample(self, evse_id: int, context: str, variable: str) -> list[dict[str, Any]]:
        return [
            self.sample(evse_id, context, self.device_model["SampledDataCtrlr", variable].value)
        ]

    # -- station → CSMS -----------------------------------------------------------------

    async def boot(self, reason: str = "PowerUp") -> call_result.BootNotification:
        """Send BootNotification; an accepted interval becomes the heartbeat interval."""
        response = await self.request(
            call.BootNotification(
                charging_station={
                    "model": self.model,
                    "vendor_name": self.vendor,
                    "firmware_version": self.firmware_version,
                },
                reason=reason,
            )
        )
        self.registration_status = response.status
        if response.status == ACCEPTED and response.interval > 0:
            self.heartbeat_setting().value = str(response.interval)
        return response

    async def start_up(self, reason: str = "PowerUp") -> call_result.BootNotification:
        """Boot, then report the status of every connector."""
        response = await self.boot(reason)
        await self._report_each(self.evses.values())
        return response

    async def status(
        self, evse_id: int, status: str, connector_id: int | None = None
    ) -> call_result.StatusNotification | None:
        """Set the EVSE status and report it per connector (all unless ``connector_id``).

        While offline the status is only kept: the station reports it on reconnection,
        as the specification has status notifications dropped rather than queued.
        """
        evse = self.evse(evse_id)
        evse.status = status
        response = None
        for number in [connector_id] if connector_id else range(1, evse.connectors + 1):
            if self.connected:
                response = await self.request(
                    call.StatusNotification(
                        timestamp=utc_now(),
                        connector_status=status,
                        evse_id=evse_id,
                        connector_id=number,
                    )
                )
        return response

    async def authorize(self, token: str, token_type: str = "ISO14443") -> call_result.Authorize:
        """Send Authorize; ``response.id_token_info["status"]`` holds the verdict."""
        return await self.request(call.Authorize(id_token=id_token(token, token_type)))

    async def transaction_event(
        self,
        evse_id: int,
        event_type: str,
        trigger_reason: str,
        *,
        charging_state: str | None = None,
        token: Mapping[str, str] | None = None,
        meter_value: Sequence[Mapping[str, Any]] | None = None,
        stopped_reason: str | None = None,
        remote_start_id: int | None = None,
        reservation_id: int | None = None,
        transaction_id: str | None = None,
        timestamp: str | None = None,
    ) -> call_result.TransactionEvent | None:
        """Send a TransactionEvent of the EVSE's transaction (a new one on ``Started``).

        Numbers the events (seqNo, unless the station reuses 0), starts/stops the meter
        with ``charging_state`` and queues the event with ``offline=true`` when
        disconnected; queued events return ``None`` and are replayed in order by
        :meth:`reconnect`. A Started's meter values are kept as the transaction's Begin
        sample.
        """
        evse = self.evse(evse_id)
        if event_type == "Started":
            evse.transaction_id, evse.seq_no = transaction_id or str(uuid.uuid4()), 0
            evse.begin_meter_value = list(meter_value or [])
        if charging_state is not None:
            evse.charging_state = charging_state
            if charging_state == "Charging":
                evse.meter.start()
            else:
                evse.meter.stop()
        event = call.TransactionEvent(
            event_type=event_type,
            timestamp=timestamp or utc_now(),
            trigger_reason=trigger_reason,
            seq_no=evse.seq_no,
            transaction_info={
                "transaction_id": transaction_id or evse.transaction_id,
                "charging_state": charging_state,
                "stopped_reason": stopped_reason,
                "remote_start_id": remote_start_id,
            },
            meter_value=list(meter_value) if meter_value else None,
            reservation_id=reservation_id,
            evse={"id": evse_id, "connector_id": 1} if event_type == "Started" else None,
            id_token=dict(token) if token else None,
        )
        if not self.reuse_seq_no:
            evse.seq_no += 1
        if event_type == "Ended":
            evse.transaction_id = None
        return await self._send_or_queue(event)

    async def _send_or_queue(self, event: Any) -> call_result.TransactionEvent | None:
        if self.connected and not self.offline_queue:
            try:
                return await self.request(event)
            except ConnectionClosed:
                pass
        event.offline = event.offline or not self.connected
        self.offline_queue.append(event)
        return None

    async def _on_reconnected(self) -> None:
        """Replay queued TransactionEvents in order, then report every status as it is.

        As it is, not as at rest: an EVSE whose transaction goes on across the
        reconnection is still Occupied.
        """
        await super()._on_reconnected()
        while self.offline_queue:
            await self.request(self.offline_queue[0])
            self.offline_queue.pop(0)
        await self._report_current(list(self.evses.values()))

    async def meter_values(
        self, evse_id: int, meter_value: Sequence[Mapping[str, Any]] | None = None
    ) -> call_result.MeterValues:
        """Send MeterValues (outside transactions): given ones, else a fresh sample."""
        return await self.request(
            call.MeterValues(
                evse_id=evse_id, meter_value=list(meter_value or [self.sample(evse_id)])
            )
        )

    # -- flows --------------------------------------------------------------------------

    async def plug_in_and_charge(
        self,
        evse_id: int,
        token: str,
        *,
        token_type: str = "ISO14443",
        duration: float | None = None,
        energy_wh: float | None = None,
        authorize: bool = True,
        cable_first: bool = True,
        remote_start_id: int | None = None,
    ) -> ChargingSession[str]:
        """Run a whole session on ``evse_id``; the transaction starts at the first event.

        Cable first: Occupied → Started(CablePluggedIn) → Authorize → Updated(Authorized).
        Authorization first: Authorize → Started(Authorized or RemoteStart) → Occupied.
        Then Updated(Charging) and Updated(MeterValuePeriodic) every
        ``TxUpdatedInterval`` until ``duration``/``energy_wh`` or a stop (RequestStop,
        Reset, :meth:`request_stop`), then Ended and Available.
        """
        evse = self.evse(evse_id)
        flow = self._charge_session(
            evse,
            id_token(token, token_type),
            duration,
            energy_wh,
            authorize,
            cable_first,
            remote_start_id,
        )
        return await self._run_session(evse, flow)

    async def _charge_session(
        self,
        evse: Evse,
        token: dict[str, str],
        duration: float | None,
        energy_wh: float | None,
        authorize: bool,
        cable_first: bool,
        remote_start_id: int | None,
    ) -> ChargingSession[str]:
        eid = evse.evse_id
        session = ChargingSession[str](id_tag=token["id_token"])
        reservation_id = self._reservation_for(evse, token["id_token"])
        session.meter_start_wh = round(evse.meter.energy_wh)
        begin = self._context_sample(eid, "Transaction.Begin", "TxStartedMeasurands")
        if cable_first:
            await self.status(eid, "Occupied")
            await self.transaction_event(
                eid,
                "Started",
                "CablePluggedIn",
                charging_state="EVConnected",
                meter_value=begin,
                remote_start_id=remote_start_id,
            )
            session.accepted = not authorize or await self._token_accepted(token)
            if session.accepted:
                updated = await self.transaction_event(
                    eid, "Updated", "Authorized", token=token, reservation_id=reservation_id
                )
                session.accepted = _accepted(updated)
        else:
            if authorize and not await self._token_accepted(token):
                return session
            anonymous = remote_start_id is not None and self.remote_start_without_id_token
            started = await self.transaction_event(
                eid,
                "Started",
                "Authorized" if remote_start_id is None else "RemoteStart",
                charging_state="Idle",
                token=None if anonymous else token,
                meter_value=begin,
                remote_start_id=remote_start_id,
                reservation_id=reservation_id,
            )
            session.accepted = _accepted(started)
            await self.status(eid, "Occupied")
        session.transaction_id = evse.transaction_id
        if reservation_id is not None:
            self._drop_reservation(evse)
        stop_invalid = self.device_model["TxCtrlr", "StopTxOnInvalidId"].as_bool
        if session.accepted or not stop_invalid:
            await self.transaction_event(
                eid, "Updated", "ChargingStateChanged", charging_state="Charging"
            )
            session.stop_reason = await charge(
                evse,
                interval=lambda: self.sample_interval_setting().as_int,
                send_sample=lambda: self.transaction_event(
                    eid, "Updated", "MeterValuePeriodic", meter_value=[self.sample(eid)]
                ),
                duration=duration,
                energy_wh=energy_wh,
            )
        else:
            session.stop_reason = "DeAuthorized"
        session.stop_reason = session.stop_reason or "Local"
        session.meter_stop_wh = round(evse.meter.energy_wh)
        await self._end_transaction(evse, session.stop_reason)
        return session

    async def _token_accepted(self, token: Mapping[str, str]) -> bool:
        return _accepted(await self.authorize(token["id_token"], token["type"]))

    async def _end_transaction(self, evse: Evse, reason: str) -> None:
        end = self._context_sample(evse.evse_id, "Transaction.End", "TxEndedMeasurands")
        begin = evse.begin_meter_value if self.begin_and_end_in_ended else []
        await self.transaction_event(
            evse.evse_id,
            "Ended",
            STOP_TRIGGERS.get(reason, "AbnormalCondition"),
            charging_state="EVConnected",
            stopped_reason=reason,
            meter_value=[*begin, *end],
        )

    async def _report(self, outlet: Evse) -> None:
        await self.status(outlet.evse_id, self._rest_status(outlet))

    async def _stop_without_flow(self, outlet: Evse, reason: str) -> None:
        await self._end_transaction(outlet, reason)

    async def _reboot(self, evses: Sequence[Evse] | None) -> None:
        """Stop transactions (ImmediateReset); a whole-station reset boots again."""
        await self._stop_all("ImmediateReset", evses)
        if evses is None:
            await self.start_up("RemoteReset")

    async def _reset_when_idle(self) -> None:
        """Reboot once every EVSE is idle, unless an Immediate reset came first."""
        await asyncio.gather(*(evse.idle.wait() for evse in self.evses.values()))
        if self._reset_scheduled:
            self._reset_scheduled = False
            await self._reboot(None)

    async def _send_notify_report(self, request_id: int, report: list[dict[str, Any]]) -> None:
        """Send ``report`` in two NotifyReport parts (one when it is that short)."""
        half = (len(report) + 1) // 2
        parts = [report[:half], report[half:]] if len(report) > 1 else [report]
        for seq_no, part in enumerate(parts):
            await self.request(
                call.NotifyReport(
                    request_id=request_id,
                    generated_at=utc_now(),
                    seq_no=seq_no,
                    report_data=part,
                    tbc=seq_no < len(parts) - 1,
                )
            )

    # -- CSMS → station -----------------------------------------------------------------

    @handles("RequestStartTransaction")
    def on_request_start(
        self, id_token: dict[str, str], remote_start_id: int, evse_id: int | None = None, **_: Any
    ) -> call_result.RequestStartTransaction:
        """Accept when a free operative EVSE exists; then charge (authorization first)."""
        evse = self._pick_for_remote_start(evse_id, id_token["id_token"])
        if evse is None:
            return call_result.RequestStartTransaction(status=REJECTED)
        evse.begin_session()
        authorize = self.device_model["AuthCtrlr", "AuthorizeRemoteStart"].as_bool
        self._after_reply(
            lambda: self.plug_in_and_charge(
                evse.evse_id,
                id_token["id_token"],
                token_type=id_token["type"],
                authorize=authorize,
                cable_first=False,
                remote_start_id=remote_start_id,
            )
        )
        return call_result.RequestStartTransaction(status=ACCEPTED)

    @handles("RequestStopTransaction")
    def on_request_stop(self, transaction_id: str, **_: Any) -> call_result.RequestStopTransaction:
        """Accept for an ongoing transaction, which then ends with reason Remote."""
        evse = self._by_transaction(transaction_id)
        if evse is None:
            return call_result.RequestStopTransaction(status=REJECTED)
        self._after_reply(lambda: self._stop_now(evse, "Remote"))
        return call_result.RequestStopTransaction(status=ACCEPTED)

    @handles("Reset")
    def on_reset(self, type: str, evse_id: int | None = None, **_: Any) -> call_result.Reset:
        """Immediate: stop and reboot now. OnIdle: Scheduled while transactions run."""
        if evse_id is not None and evse_id not in self.evses:
            return call_result.Reset(status=REJECTED)
        evses = [self.evse(evse_id)] if evse_id is not None else None
        busy = any(e.in_session for e in (evses or self.evses.values()))
        if type == "OnIdle" and busy and evses is None:
            self._reset_scheduled = True
            self._after_reply(self._reset_when_idle)
            return call_result.Reset(status="Scheduled")
        self._reset_scheduled = self._reset_scheduled and evses is not None
        self._after_reply(lambda: self._reboot(evses))
        return call_result.Reset(status=ACCEPTED)

    @handles("UnlockConnector")
    def on_unlock(self, evse_id: int, connector_id: int, **_: Any) -> call_result.UnlockConnector:
        """Unlocked, unless a transaction holds the connector or it does not exist."""
        evse = self.evses.get(evse_id)
        if evse is None or not 1 <= connector_id <= evse.connectors:
            return call_result.UnlockConnector(status="UnknownConnector")
        if evse.transaction_id is not None:
            return call_result.UnlockConnector(status="OngoingAuthorizedTransaction")
        return call_result.UnlockConnector(status="Unlocked")

    @handles("ChangeAvailability")
    def on_change_availability(
        self, operational_status: str, evse: dict[str, int] | None = None, **_: Any
    ) -> call_result.ChangeAvailability:
        """Apply now (and report), or Scheduled for EVSEs with a transaction."""
        evse_id = evse["id"] if evse else 0
        if evse_id != 0 and evse_id not in self.evses:
            return call_result.ChangeAvailability(status=REJECTED)
        targets = self.evses.values() if evse_id == 0 else [self.evse(evse_id)]
        scheduled = self._change_availability(targets, operational_status == "Operative")
        return call_result.ChangeAvailability(status="Scheduled" if scheduled else ACCEPTED)

    @handles("GetVariables")
    def on_get_variables(
        self, get_variable_data: list[dict[str, Any]], **_: Any
    ) -> call_result.GetVariables:
        """Answer each requested variable from the device model."""
        return call_result.GetVariables(
            get_variable_result=[self.device_model.get(item) for item in get_variable_data]
        )

    @handles("SetVariables")
    def on_set_variables(
        self, set_variable_data: list[dict[str, Any]], **_: Any
    ) -> call_result.SetVariables:
        """Apply each writable, well-formed value; reject the others."""
        return call_result.SetVariables(
            set_variable_result=[self.device_model.set(item) for item in set_variable_data]
        )

    @handles("GetBaseReport")
    def on_get_base_report(
        self, request_id: int, report_base: str, **_: Any
    ) -> call_result.GetBaseReport:
        """Accept, then send the report in NotifyReport parts."""
        report = self.device_model.report(base=report_base)
        self._after_reply(lambda: self._send_notify_report(request_id, report))
        return call_result.GetBaseReport(status=ACCEPTED)

    @handles("GetReport")
    def on_get_report(
        self,
        request_id: int,
        component_variable: list[dict[str, Any]] | None = None,
        **_: Any,
    ) -> call_result.GetReport:
        """Accept and report the matching variables, or EmptyResultSet."""
        report = self.device_model.report(wanted=component_variable)
        if not report:
            return call_result.GetReport(status="EmptyResultSet")
        self._after_reply(lambda: self._send_notify_report(request_id, report))
        return call_result.GetReport(status=ACCEPTED)

    @handles("TriggerMessage")
    def on_trigger_message(
        self, requested_message: str, evse: dict[str, int] | None = None, **_: Any
    ) -> call_result.TriggerMessage:
        """Accept the messages the station can send, then send them."""
        evse_id = evse["id"] if evse else None
        if evse_id is not None and evse_id not in self.evses:
            return call_result.TriggerMessage(status=REJECTED)
        chosen = [self.evse(evse_id)] if evse_id else list(self.evses.values())
        senders = {
            "BootNotification": lambda: self.boot("Triggered"),
            "Heartbeat": self.heartbeat,
            "StatusNotification": lambda: self._report_current(chosen),
            "MeterValues": lambda: self._send_each_meter_values(chosen),
            "TransactionEvent": lambda: self._send_each_trigger_event(chosen),
        }
        sender = senders.get(requested_message)
        if sender is None:
            return call_result.TriggerMessage(status="NotImplemented")
        if requested_message == "TransactionEvent" and not any(e.transaction_id for e in chosen):
            return call_result.TriggerMessage(status=REJECTED)
        self._after_reply(sender)
        return call_result.TriggerMessage(status=ACCEPTED)

    async def _report_current(self, evses: Sequence[Evse]) -> None:
        for evse in evses:
            await self.status(evse.evse_id, evse.status)

    async def _send_each_meter_values(self, evses: Sequence[Evse]) -> None:
        for evse in evses:
            await self.meter_values(evse.evse_id, [self.sample(evse.evse_id, "Trigger")])

    async def _send_each_trigger_event(self, evses: Sequence[Evse]) -> None:
        for evse in evses:
            if evse.transaction_id is not None:
                await self.transaction_event(
                    evse.evse_id,
                    "Updated",
                    "Trigger",
                    charging_state=evse.charging_state,
                    meter_value=[self.sample(evse.evse_id, "Trigger")],
                )

    @handles("GetTransactionStatus")
    def on_get_transaction_status(
        self, transaction_id: str | None = None, **_: Any
    ) -> call_result.GetTransactionStatus:
        """Report queued events and, for a given transaction, whether it is ongoing."""
        return call_result.GetTransactionStatus(
            messages_in_queue=bool(self.offline_queue),
            ongoing_indicator=(
                None if transaction_id is None else self._by_transaction(transaction_id) is not None
            ),
        )

    @handles("ReserveNow")
    def on_reserve_now(
        self,
        id: int,
        expiry_date_time: str,
        id_token: dict[str, str],
        evse_id: int | None = None,
        **_: Any,
    ) -> call_result.ReserveNow:
        """Reserve the asked (or the first free) EVSE until ``expiryDateTime``."""
        if evse_id is not None and evse_id not in self.evses:
            return call_result.ReserveNow(status=REJECTED)
        candidates = [self.evse(evse_id)] if evse_id is not None else list(self.evses.values())
        refusal = "Occupied"
        for evse in candidates:
            refusal = self._reservation_refusal(evse, id) or ""
            if not refusal:
                self._reserve(evse, Reservation(id, id_token["id_token"], expiry_date_time))
                return call_result.ReserveNow(status=ACCEPTED)
        return call_result.ReserveNow(status=refusal)

    @handles("SetNetworkProfile")
    def on_set_network_profile(
        self, configuration_slot: int, connection_data: dict[str, Any], **_: Any
    ) -> call_result.SetNetworkProfile:
        """Store the profile in its slot (kept in ``network_profiles``)."""
        self.network_profiles[configuration_slot] = connection_data
        return call_result.SetNetworkProfile(status=ACCEPTED)


@asynccontextmanager
async def connect(
    url: str,
    cp_id: str,
    *,
    password: str | None = None,
    evses: int = 2,
    connectors_per_evse: int = 1,
    ssl: SSLContext | None = None,
    subprotocols: Sequence[str] = ("ocpp2.0.1",),
    response_timeout: float = 30.0,
    variables: Mapping[tuple[str, str], str] | None = None,
    begin_and_end_in_ended: bool = False,
    reuse_seq_no: bool = False,
    boot_on_reconnect: bool = False,
    remote_start_without_id_token: bool = False,
) -> AsyncIterator[ChargingStation201]:
    """Connect a :class:`ChargingStation201` to ``url``; close on exit."""
    station = ChargingStation201(
        cp_id,
        evses=evses,
        connectors_per_evse=connectors_per_evse,
        password=password,
        response_timeout=response_timeout,
        variables=variables,
        begin_and_end_in_ended=begin_and_end_in_ended,
        reuse_seq_no=reuse_seq_no,
        boot_on_reconnect=boot_on_reconnect,
        remote_start_without_id_token=remote_start_without_id_token,
    )
    async with station.session(url, ssl=ssl, subprotocols=subprotocols):
        yield station
