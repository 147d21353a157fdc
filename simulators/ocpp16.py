"""A scriptable OCPP 1.6J charge point (Core, Firmware Management, Remote Trigger, Reservation).

Typical test use::

    async with connect("ws://127.0.0.1:9000/ocpp", "CP_1", password="secret") as cp:
        await cp.boot()
        session = await cp.plug_in_and_charge(1, "TAG1", duration=2)
        await central_system.remote_start("CP_1", "TAG2")   # the test's own CSMS client
        await cp.wait_for("RemoteStartTransaction")
        started = await cp.wait_sent("StartTransaction")

Charger→CSMS methods return the ``ocpp.v16.call_result`` dataclass of the answer and
raise the ``OCPPError`` of a CallError. CSMS→charger requests are answered as a
conforming charger would, follow-up messages included (see the ``on_*`` handlers).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from ssl import SSLContext
from typing import Any

from ocpp.v16 import call, call_result

from simulators.common import handles, seconds_until, utc_now
from simulators.outlet import (
    DEFAULT_MEASURANDS,
    ChargingSession,
    Meter,
    Outlet,
    Reservation,
    charge,
    parse_measurands,
)
from simulators.settings import Kind, Setting
from simulators.station import Station

ACCEPTED = "Accepted"
REJECTED = "Rejected"


@dataclass
class Connector(Outlet[int]):
    """One 1.6 connector (ids start at 1; connector 0 is the charge point itself)."""

    connector_id: int = 1


def default_configuration(connectors: int) -> dict[str, Setting]:
    """The Core profile keys with typical factory values."""
    integer, boolean, measurands = Kind.INTEGER, Kind.BOOLEAN, Kind.MEASURANDS
    return {
        "AllowOfflineTxForUnknownId": Setting("false", boolean),
        "AuthorizationCacheEnabled": Setting("false", boolean),
        "AuthorizeRemoteTxRequests": Setting("true", boolean),
        "ClockAlignedDataInterval": Setting("0", integer),
        "ConnectionTimeOut": Setting("60", integer),
        "ConnectorPhaseRotation": Setting("Unknown"),
        "GetConfigurationMaxKeys": Setting("100", integer, readonly=True),
        "HeartbeatInterval": Setting("300", integer),
        "LocalAuthorizeOffline": Setting("false", boolean),
        "LocalPreAuthorize": Setting("false", boolean),
        "MeterValuesAlignedData": Setting("Energy.Active.Import.Register", measurands),
        "MeterValuesSampledData": Setting(DEFAULT_MEASURANDS, measurands),
        "MeterValueSampleInterval": Setting("60", integer),
        "NumberOfConnectors": Setting(str(connectors), integer, readonly=True),
        "ReserveConnectorZeroSupported": Setting("false", boolean, readonly=True),
        "ResetRetries": Setting("3", integer),
        "StopTransactionOnEVSideDisconnect": Setting("true", boolean),
        "StopTransactionOnInvalidId": Setting("true", boolean),
        "StopTxnAlignedData": Setting("", measurands),
        "StopTxnSampledData": Setting("", measurands),
        "SupportedFeatureProfiles": Setting(
            "Core,FirmwareManagement,RemoteTrigger,Reservation", readonly=True
        ),
        "TransactionMessageAttempts": Setting("3", integer),
        "TransactionMessageRetryInterval": Setting("60", integer),
        "UnlockConnectorOnEVSideDisconnect": Setting("true", boolean),
        "WebSocketPingInterval": Setting("0", integer),
    }


class ChargePoint16(Station[Connector]):
    """A simulated OCPP 1.6J charge point with ``connectors`` connectors.

    ``config`` overrides or adds configuration keys (e.g. ``{"MeterValueSampleInterval":
    "1"}``); ``step_delay`` is the pause between the status notifications of a firmware
    update or diagnostics upload.

    A third-party behaviour the back-end must survive, off by default:

    ``boot_on_reconnect``
        After every :meth:`reconnect` the charge point sends a BootNotification, then
        every status as it is (``Charging`` included), before anything else, yet it did
        not reboot: its transactions go on, with their meter values (with
        ``transactionId``) and eventually their StopTransaction, as chargers that treat
        every websocket session as a power-up do (issue 9's fleet run met them).
    """

    default_subprotocols = ("ocpp1.6",)
    _ocpp_version = "1.6"
    _call = call
    _call_result = call_result

    def __init__(
        self,
        cp_id: str,
        *,
        connectors: int = 2,
        password: str | None = None,
        response_timeout: float = 30.0,
        vendor: str = "CPO-Sim",
        model: str = "Sim-16",
        firmware_version: str = "1.0.0",
        power_w: float = 11_000.0,
        config: Mapping[str, str] | None = None,
        step_delay: float = 0.1,
        boot_on_reconnect: bool = False,
    ) -> None:
        super().__init__(cp_id, password=password, response_timeout=response_timeout)
        self.boot_on_reconnect = boot_on_reconnect
        self.vendor, self.model, self.firmware_version = vendor, model, firmware_version
        self.outlets = {
            n: Connector(connector_id=n, meter=Meter(power_w=power_w))
            for n in range(1, connectors + 1)
        }
        self.status0 = "Available"
        self.config = default_configuration(connectors)
        for key, value in (config or {}).items():
            self.config.setdefault(key, Setting(value)).value = value
        self.registration_status: str | None = None
        self.diagnostics: str = "Idle"
        self.firmware: str = "Idle"
        self.step_delay = step_delay

    # -- state helpers ----------------------------------------------------------------

    @property
    def connectors(self) -> dict[int, Connector]:
        """The connectors by id."""
        return self.outlets

    def connector(self, connector_id: int) -> Connector:
        """The connector ``connector_id``; KeyError if there is none."""
        return self.connectors[connector_id]

    def setting(self, key: str) -> Setting:
        """The configuration key ``key``; KeyError if unknown."""
        return self.config[key]

    def heartbeat_setting(self) -> Setting:
        return self.config["HeartbeatInterval"]

    def sample_interval_setting(self) -> Setting:
        return self.config["MeterValueSampleInterval"]

    def sample(
        self,
        connector_id: int,
        context: str = "Sample.Periodic",
        measurands: Sequence[str] | None = None,
    ) -> dict[str, Any]:
        """One MeterValue of the connector, measurands from ``MeterValuesSampledData``."""
        names = measurands or parse_measurands(self.config["MeterValuesSampledData"].value) or []
        return {
            "timestamp": utc_now(),
            "sampled_value": [
                {
                    "value": str(s.value),
                    "context": context,
                    "measurand": s.measurand,
                    "unit": s.unit,
                    "location": "Outlet",
                    **({"phase": s.phase} if s.phase else {}),
                }
                for s in self.connector(connector_id).meter.samples(names)
            ],
        }

    # -- charger → CSMS -----------------------------------------------------------------

    async def boot(
        self,
        vendor: str | None = None,
        model: str | None = None,
        *,
        serial_number: str | None = None,
        firmware_version: str | None = None,
    ) -> call_result.BootNotification:
        """Send BootNotification; an accepted interval becomes ``HeartbeatInterval``."""
        response = await self.request(
            call.BootNotification(
                charge_point_vendor=vendor or self.vendor,
                charge_point_model=model or self.model,
                charge_point_serial_number=serial_number,
                firmware_version=firmware_version or self.firmware_version,
            )
        )
        self.registration_status = response.status
        if response.status == ACCEPTED and response.interval > 0:
            self.heartbeat_setting().value = str(response.interval)
        return response

    async def start_up(self) -> call_result.BootNotification:
        """Boot, then report the status of connector 0 and of every connector."""
        response = await self.boot()
        await self.status(0, self.status0)
        await self._report_each(self.connectors.values())
        return response

    async def status(
        self,
        connector_id: int,
        status: str,
        error_code: str = "NoError",
        *,
        info: str | None = None,
        vendor_id: str | None = None,
        vendor_error_code: str | None = None,
        timestamp: str | None = None,
    ) -> call_result.StatusNotification:
        """Set and report a connector status; the meter runs only while ``Charging``."""
        if connector_id == 0:
            self.status0 = status
        elif connector := self.connectors.get(connector_id):
            connector.status = status
            if status == "Charging":
                connector.meter.start()
            else:
                connector.meter.stop()
        return await self.request(
            call.StatusNotification(
                connector_id=connector_id,
                error_code=error_code,
                status=status,
                timestamp=timestamp or utc_now(),
                info=info,
                vendor_id=vendor_id,
                vendor_error_code=vendor_error_code,
            )
        )

    async def authorize(self, id_tag: str) -> call_result.Authorize:
        """Send Authorize; ``response.id_tag_info["status"]`` holds the verdict."""
        return await self.request(call.Authorize(id_tag=id_tag))

    async def start_transaction(
        self,
        connector_id: int,
        id_tag: str,
        *,
        meter_start: int | None = None,
        timestamp: str | None = None,
        reservation_id: int | None = None,
    ) -> call_result.StartTransaction:
        """Send StartTransaction (meter from the register) and remember the transaction."""
        connector = self.connector(connector_id)
        response = await self.request(
            call.StartTransaction(
                connector_id=connector_id,
                id_tag=id_tag,
                meter_start=round(connector.meter.energy_wh)
                if meter_start is None
                else meter_start,
                timestamp=timestamp or utc_now(),
                reservation_id=reservation_id,
            )
        )
        connector.transaction_id, connector.id_tag = response.transaction_id, id_tag
        if reservation_id is not None:
            self._drop_reservation(connector)
        return response

    async def meter_values(
        self,
        connector_id: int,
        meter_value: Sequence[Mapping[str, Any]] | None = None,
        *,
        transaction_id: int | None = None,
        context: str = "Sample.Periodic",
    ) -> call_result.MeterValues:
        """Send MeterValues: given ones, else a fresh :meth:`sample` of the connector.

        ``transaction_id`` defaults to the connector's active transaction.
        """
        connector = self.connectors.get(connector_id)
        if transaction_id is None and connector:
            transaction_id = connector.transaction_id
        return await self.request(
            call.MeterValues(
                connector_id=connector_id,
                meter_value=list(meter_value or [self.sample(connector_id, context)]),
                transaction_id=transaction_id,
            )
        )

    async def stop_transaction(
        self,
        transaction_id: int,
        *,
        meter_stop: int | None = None,
        id_tag: str | None = None,
        reason: str | None = None,
        timestamp: str | None = None,
        transaction_data: Sequence[Mapping[str, Any]] | None = None,
    ) -> call_result.StopTransaction:
        """Send StopTransaction (meter from the register of the transaction's connector)."""
        connector = self._by_transaction(transaction_id)
        if connector:
            connector.meter.stop()
            connector.transaction_id = None
        if meter_stop is None:
            meter_stop = round(connector.meter.energy_wh) if connector else 0
        return await self.request(
            call.StopTransaction(
                meter_stop=meter_stop,
                timestamp=timestamp or utc_now(),
                transaction_id=transaction_id,
                reason=reason,
                id_tag=id_tag,
                transaction_data=list(transaction_data) if transaction_data else None,
            )
        )

    async def diagnostics_status(self, status: str) -> call_result.DiagnosticsStatusNotification:
        """Send DiagnosticsStatusNotification."""
        return await self.request(call.DiagnosticsStatusNotification(status=status))

    async def firmware_status(self, status: str) -> call_result.FirmwareStatusNotification:
        """Send FirmwareStatusNotification."""
        return await self.request(call.FirmwareStatusNotification(status=status))

    # -- flows --------------------------------------------------------------------------

    async def plug_in_and_charge(
        self,
        connector_id: int,
        id_tag: str,
        *,
        duration: float | None = None,
        energy_wh: float | None = None,
        authorize: bool = True,
    ) -> ChargingSession[int]:
        """Run a whole session on ``connector_id``.

        Preparing → Authorize (unless ``authorize`` is false) → StartTransaction →
        Charging with MeterValues every ``MeterValueSampleInterval`` → StopTransaction →
        Finishing → Available. Charging lasts ``duration`` seconds, until ``energy_wh``
        is delivered, or — with neither — until :meth:`request_stop`, RemoteStop, Reset
        or UnlockConnector ends it (the stop reason is then theirs, else ``Local``).
        """
        connector = self.connector(connector_id)
        return await self._run_session(
            connector, self._charge_session(connector, id_tag, duration, energy_wh, authorize)
        )

    async def _charge_session(
        self,
        connector: Connector,
        id_tag: str,
        duration: float | None,
        energy_wh: float | None,
        authorize: bool,
    ) -> ChargingSession[int]:
        cid = connector.connector_id
        session = ChargingSession[int](id_tag=id_tag)
        await self.status(cid, "Preparing")
        if authorize and (await self.authorize(id_tag)).id_tag_info["status"] != ACCEPTED:
            return session
        session.meter_start_wh = round(connector.meter.energy_wh)
        started = await self.start_transaction(
            cid, id_tag, reservation_id=self._reservation_for(connector, id_tag)
        )
        session.transaction_id = started.transaction_id
        session.accepted = started.id_tag_info["status"] == ACCEPTED
        if session.accepted or not self.config["StopTransactionOnInvalidId"].as_bool:
            await self.status(cid, "Charging")
            session.stop_reason = await charge(
                connector,
                interval=lambda: self.sample_interval_setting().as_int,
                send_sample=lambda: self.meter_values(cid),
                duration=duration,
                energy_wh=energy_wh,
            )
        else:
            session.stop_reason = "DeAuthorized"
        session.stop_reason = session.stop_reason or "Local"
        session.meter_stop_wh = round(connector.meter.energy_wh)
        await self.stop_transaction(
            started.transaction_id,
            reason=session.stop_reason,
            id_tag=id_tag if session.stop_reason == "Local" else None,
        )
        await self.status(cid, "Finishing")
        return session

    async def _report(self, outlet: Connector) -> None:
        await self.status(outlet.connector_id, self._rest_status(outlet))

    async def _stop_without_flow(self, outlet: Connector, reason: str) -> None:
        if outlet.transaction_id is not None:
            await self.stop_transaction(outlet.transaction_id, reason=reason)

    async def _reboot(self, reason: str) -> None:
        await self._stop_all(reason)
        await self.start_up()

    async def _on_reconnected(self) -> None:
        """After a reconnect boot, report every status as it is: transactions go on."""
        await super()._on_reconnected()
        if self.boot_on_reconnect:
            await self._send_triggered("StatusNotification", None)

    # -- CSMS → charger -----------------------------------------------------------------

    @handles("RemoteStartTransaction")
    def on_remote_start(
        self,
        id_tag: str,
        connector_id: int | None = None,
        charging_profile: dict[str, Any] | None = None,
    ) -> call_result.RemoteStartTransaction:
        """Accept when a free operative connector exists; then charge until stopped."""
        connector = self._pick_for_remote_start(connector_id, id_tag)
        if connector is None:
            return call_result.RemoteStartTransaction(status=REJECTED)
        connector.begin_session()
        authorize = self.config["AuthorizeRemoteTxRequests"].as_bool
        cid = connector.connector_id
        self._after_reply(lambda: self.plug_in_and_charge(cid, id_tag, authorize=authorize))
        return call_result.RemoteStartTransaction(status=ACCEPTED)

    @handles("RemoteStopTransaction")
    def on_remote_stop(self, transaction_id: int) -> call_result.RemoteStopTransaction:
        """Accept for an active transaction, which then stops with reason Remote."""
        connector = self._by_transaction(transaction_id)
        if connector is None:
            return call_result.RemoteStopTransaction(status=REJECTED)
        self._after_reply(lambda: self._stop_now(connector, "Remote"))
        return call_result.RemoteStopTransaction(status=ACCEPTED)

    @handles("Reset")
    def on_reset(self, type: str) -> call_result.Reset:
        """Accept; stop transactions (SoftReset/HardReset), boot again, report statuses."""
        self._after_reply(lambda: self._reboot(f"{type}Reset"))
        return call_result.Reset(status=ACCEPTED)

    @handles("UnlockConnector")
    def on_unlock(self, connector_id: int) -> call_result.UnlockConnector:
        """Unlock; a transaction on the connector stops with reason UnlockCommand."""
        connector = self.connectors.get(connector_id)
        if connector is None:
            return call_result.UnlockConnector(status="NotSupported")
        self._after_reply(lambda: self._stop_now(connector, "UnlockCommand"))
        return call_result.UnlockConnector(status="Unlocked")

    @handles("ChangeAvailability")
    def on_change_availability(
        self, connector_id: int, type: str
    ) -> call_result.ChangeAvailability:
        """Apply now (and report), or Scheduled for connectors busy with a transaction."""
        if connector_id != 0 and connector_id not in self.connectors:
            return call_result.ChangeAvailability(status=REJECTED)
        operative = type == "Operative"
        if connector_id == 0:
            self._after_reply(lambda: self.status(0, "Available" if operative else "Unavailable"))
        targets = self.connectors.values() if connector_id == 0 else [self.connector(connector_id)]
        scheduled = self._change_availability(targets, operative)
        return call_result.ChangeAvailability(status="Scheduled" if scheduled else ACCEPTED)

    @handles("ChangeConfiguration")
    def on_change_configuration(self, key: str, value: str) -> call_result.ChangeConfiguration:
        """NotSupported for unknown keys, Rejected for read-only or malformed values."""
        setting = self.config.get(key)
        if setting is None:
            return call_result.ChangeConfiguration(status="NotSupported")
        if setting.readonly or not setting.accepts(value):
            return call_result.ChangeConfiguration(status=REJECTED)
        setting.value = value
        return call_result.ChangeConfiguration(status=ACCEPTED)

    @handles("GetConfiguration")
    def on_get_configuration(self, key: list[str] | None = None) -> call_result.GetConfiguration:
        """Every key when none is asked; unknown ones listed in ``unknownKey``."""
        keys = key or list(self.config)
        known = [
            {"key": k, "readonly": self.config[k].readonly, "value": self.config[k].value}
            for k in keys
            if k in self.config
        ]
        unknown = [k for k in keys if k not in self.config]
        return call_result.GetConfiguration(
            configuration_key=known or None, unknown_key=unknown or None
        )

    @handles("TriggerMessage")
    def on_trigger_message(
        self, requested_message: str, connector_id: int | None = None
    ) -> call_result.TriggerMessage:
        """Accept for a known connector, then send the requested message."""
        if connector_id is not None and connector_id != 0 and connector_id not in self.connectors:
            return call_result.TriggerMessage(status=REJECTED)
        self._after_reply(lambda: self._send_triggered(requested_message, connector_id))
        return call_result.TriggerMessage(status=ACCEPTED)

    async def _send_triggered(self, message: str, connector_id: int | None) -> None:
        chosen = [self.connectors[connector_id]] if connector_id else list(self.connectors.values())
        if message == "BootNotification":
            await self.boot()
        elif message == "Heartbeat":
            await self.heartbeat()
        elif message == "DiagnosticsStatusNotification":
            await self.diagnostics_status(self.diagnostics)
        elif message == "FirmwareStatusNotification":
            await self.firmware_status(self.firmware)
        elif message == "MeterValues":
            for connector in chosen:
                await self.meter_values(connector.connector_id, context="Trigger")
        elif message == "StatusNotification":
            if connector_id is None or connector_id == 0:
                await self.status(0, self.status0)
            for connector in chosen if connector_id != 0 else []:
                await self.status(connector.connector_id, connector.status)

    @handles("GetDiagnostics")
    def on_get_diagnostics(
        self,
        location: str,
        retries: int | None = None,
        retry_interval: int | None = None,
        start_time: str | None = None,
        stop_time: str | None = None,
    ) -> call_result.GetDiagnostics:
        """Name the file, then report Uploading and Uploaded."""
        file_name = f"diagnostics-{self.id}-{utc_now()}.log"
        self._after_reply(self._upload_diagnostics)
        return call_result.GetDiagnostics(file_name=file_name)

    async def _upload_diagnostics(self) -> None:
        for status in ("Uploading", "Uploaded"):
            self.diagnostics = status
            await self.diagnostics_status(status)
            await asyncio.sleep(self.step_delay)
        self.diagnostics = "Idle"

    @handles("UpdateFirmware")
    def on_update_firmware(
        self,
        location: str,
        retrieve_date: str,
        retries: int | None = None,
        retry_interval: int | None = None,
    ) -> call_result.UpdateFirmware:
        """From ``retrieveDate`` on, report Downloading, Downloaded, Installing, Installed."""
        self._after_reply(lambda: self._update_firmware(retrieve_date))
        return call_result.UpdateFirmware()

    async def _update_firmware(self, retrieve_date: str) -> None:
        await asyncio.sleep(seconds_until(retrieve_date))
        for status in ("Downloading", "Downloaded", "Installing", "Installed"):
            self.firmware = status
            await self.firmware_status(status)
            await asyncio.sleep(self.step_delay)
        self.firmware = "Idle"

    @handles("ReserveNow")
    def on_reserve_now(
        self,
        connector_id: int,
        expiry_date: str,
        id_tag: str,
        reservation_id: int,
        parent_id_tag: str | None = None,
    ) -> call_result.ReserveNow:
        """Reserve a free connector until ``expiryDate``, else say why not."""
        connector = self.connectors.get(connector_id)
        if connector is None:
            return call_result.ReserveNow(status=REJECTED)
        refusal = self._reservation_refusal(connector, reservation_id)
        if refusal is None:
            self._reserve(connector, Reservation(reservation_id, id_tag, expiry_date))
        return call_result.ReserveNow(status=refusal or ACCEPTED)


@asynccontextmanager
async def connect(
    url: str,
    cp_id: str,
    *,
    password: str | None = None,
    connectors: int = 2,
    ssl: SSLContext | None = None,
    subprotocols: Sequence[str] = ("ocpp1.6",),
    response_timeout: float = 30.0,
    config: Mapping[str, str] | None = None,
    boot_on_reconnect: bool = False,
) -> AsyncIterator[ChargePoint16]:
    """Connect a :class:`ChargePoint16` to ``url`` (endpoint or full URL); close on exit."""
    charge_point = ChargePoint16(
        cp_id,
        connectors=connectors,
        password=password,
        response_timeout=response_timeout,
        config=config,
        boot_on_reconnect=boot_on_reconnect,
    )
    async with charge_point.session(url, ssl=ssl, subprotocols=subprotocols):
        yield charge_point
