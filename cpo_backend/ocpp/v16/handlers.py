"""OCPP 1.6J: the charger's calls (Core, Firmware Management, Diagnostics), answered.

Handlers translate between 1.6 payloads and the domain; every rule about stations,
tokens and transactions lives in the domain services.

1.6 connector ``N`` is EVSE ``N`` with connector 1 in the domain, connector 0 is the
station itself (EVSE 0, connector 0).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from cpo_backend.domain.meter import SampledValue, normalise
from cpo_backend.domain.model import AuthorizationStatus, IdTokenInfo, Registration
from cpo_backend.domain.stations import BootInfo, StatusReport
from cpo_backend.domain.time import format_utc, parse_timestamp, utc_now
from cpo_backend.domain.transactions import StartRequest, StopRequest
from cpo_backend.ocpp.binding import StationSession
from cpo_backend.ocpp.routing import on

PROTOCOL = "1.6"

# 1.6 knows five authorization statuses; the 2.0.1-only ones mean "not allowed here".
_V16_STATUSES = {
    AuthorizationStatus.ACCEPTED,
    AuthorizationStatus.BLOCKED,
    AuthorizationStatus.EXPIRED,
    AuthorizationStatus.INVALID,
    AuthorizationStatus.CONCURRENT_TX,
}

# Non-Accepted stations may not start charging (1.6 4.2.1: a Pending or Rejected charge
# point shall not send requests unless triggered); we answer, but refuse the token.
_NOT_ACCEPTED = IdTokenInfo(status=AuthorizationStatus.INVALID)


def id_tag_info(info: IdTokenInfo) -> dict[str, Any]:
    status = info.status if info.status in _V16_STATUSES else AuthorizationStatus.INVALID
    payload: dict[str, Any] = {"status": status.value}
    if info.expiry_date is not None:
        payload["expiryDate"] = format_utc(info.expiry_date)
    if info.group_id is not None:
        payload["parentIdTag"] = info.group_id[:20]
    return payload


def sampled_values(meter_value: dict[str, Any]) -> list[SampledValue]:
    sampled_at = parse_timestamp(meter_value["timestamp"])
    return [
        normalise(
            sampled_at=sampled_at,
            raw_value=sample["value"],
            measurand=sample.get("measurand"),
            unit=sample.get("unit"),
            phase=sample.get("phase"),
            location=sample.get("location"),
            context=sample.get("context"),
            value_format=sample.get("format"),
        )
        for sample in meter_value["sampledValue"]
    ]


def _evse_of(connector_id: int) -> tuple[int, int]:
    return (connector_id, 1) if connector_id > 0 else (0, 0)


class ChargePointHandlers:
    """The central system's side of one 1.6 charge point's calls."""

    def __init__(self, session: StationSession) -> None:
        self._session = session
        self._services = session.services
        self._station_id = session.station_id

    @property
    def _accepted(self) -> bool:
        return self._session.registration == Registration.ACCEPTED

    @on("BootNotification")
    async def boot_notification(self, payload: dict[str, Any]) -> dict[str, Any]:
        info = BootInfo(
            vendor=payload["chargePointVendor"],
            model=payload["chargePointModel"],
            serial_number=payload.get("chargePointSerialNumber")
            or payload.get("chargeBoxSerialNumber"),
            firmware_version=payload.get("firmwareVersion"),
            iccid=payload.get("iccid"),
            imsi=payload.get("imsi"),
            meter_type=payload.get("meterType"),
            meter_serial_number=payload.get("meterSerialNumber"),
        )
        registration = await self._services.stations.boot(self._station_id, info, PROTOCOL)
        if not self._session.answers_trigger("BootNotification"):
            # A reboot ends what ran; a boot we asked for (TriggerMessage) ends nothing.
            await self._services.transactions.reconcile_after_boot(self._station_id)
        self._session.registration = registration
        settings = self._services.settings
        interval = (
            settings.heartbeat_interval
            if registration == Registration.ACCEPTED
            else settings.pending_retry_interval
        )
        return {
            "status": registration.value,
            "currentTime": format_utc(utc_now()),
            "interval": interval,
        }

    @on("Heartbeat")
    async def heartbeat(self, _payload: dict[str, Any]) -> dict[str, Any]:
        return {"currentTime": format_utc(utc_now())}

    @on("StatusNotification")
    async def status_notification(self, payload: dict[str, Any]) -> dict[str, Any]:
        evse_id, connector_id = _evse_of(payload["connectorId"])
        timestamp = payload.get("timestamp")
        await self._services.stations.status(
            self._station_id,
            StatusReport(
                evse_id=evse_id,
                connector_id=connector_id,
                status=payload["status"],
                error_code=payload["errorCode"],
                info=payload.get("info"),
                vendor_id=payload.get("vendorId"),
                vendor_error_code=payload.get("vendorErrorCode"),
                status_at=parse_timestamp(timestamp) if timestamp else None,
            ),
        )
        return {}

    @on("Authorize")
    async def authorize(self, payload: dict[str, Any]) -> dict[str, Any]:
        if not self._accepted:
            return {"idTagInfo": id_tag_info(_NOT_ACCEPTED)}
        # 1.6 Authorize names no connector: the driver is somewhere at this station.
        info = await self._services.tokens.authorize(payload["idTag"], station_id=self._station_id)
        return {"idTagInfo": id_tag_info(info)}

    @on("StartTransaction")
    async def start_transaction(self, payload: dict[str, Any]) -> dict[str, Any]:
        evse_id, connector_id = _evse_of(payload["connectorId"])
        result = await self._services.transactions.start(
            StartRequest(
                station_id=self._station_id,
                evse_id=evse_id,
                connector_id=connector_id,
                id_token=payload["idTag"],
                meter_start_wh=Decimal(payload["meterStart"]),
                started_at=parse_timestamp(payload["timestamp"]),
                reservation_id=payload.get("reservationId"),
            )
        )
        info = result.id_token_info if self._accepted else _NOT_ACCEPTED
        return {"transactionId": result.transaction_id, "idTagInfo": id_tag_info(info)}

    @on("MeterValues")
    async def meter_values(self, payload: dict[str, Any]) -> dict[str, Any]:
        evse_id, connector_id = _evse_of(payload["connectorId"])
        transaction_id = payload.get("transactionId")
        samples = [sample for value in payload["meterValue"] for sample in sampled_values(value)]
        await self._services.transactions.meter_values(
            self._station_id,
            evse_id,
            connector_id,
            str(transaction_id) if transaction_id is not None else None,
            samples,
        )
        return {}

    @on("StopTransaction")
    async def stop_transaction(self, payload: dict[str, Any]) -> dict[str, Any]:
        samples = [
            sample
            for value in payload.get("transactionData") or []
            for sample in sampled_values(value)
        ]
        info = await self._services.transactions.stop(
            StopRequest(
                station_id=self._station_id,
                charger_transaction_id=str(payload["transactionId"]),
                meter_stop_wh=Decimal(payload["meterStop"]),
                stopped_at=parse_timestamp(payload["timestamp"]),
                id_token=payload.get("idTag"),
                reason=payload.get("reason"),
                samples=samples,
            )
        )
        return {"idTagInfo": id_tag_info(info)} if info is not None else {}

    @on("DataTransfer")
    async def data_transfer(self, payload: dict[str, Any]) -> dict[str, Any]:
        # Kept for the operator; we implement no vendor extension, and say so.
        await self._record("DataTransfer", payload)
        return {"status": "UnknownVendorId"}

    @on("DiagnosticsStatusNotification")
    async def diagnostics_status(self, payload: dict[str, Any]) -> dict[str, Any]:
        await self._record("DiagnosticsStatusNotification", payload)
        return {}

    @on("FirmwareStatusNotification")
    async def firmware_status(self, payload: dict[str, Any]) -> dict[str, Any]:
        await self._record("FirmwareStatusNotification", payload)
        return {}

    async def _record(self, kind: str, payload: dict[str, Any]) -> None:
        # 1.6 notifications carry no timestamp of their own: only our receive time is known.
        await self._services.stations.record_event(self._station_id, kind, payload, None)
