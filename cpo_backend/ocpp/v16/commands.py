"""Version-neutral commands as OCPP 1.6 calls."""

from __future__ import annotations

from typing import Any

from cpo_backend.domain import commands as c
from cpo_backend.domain.time import format_utc


def translate(command: c.Command) -> tuple[str, dict[str, Any]]:
    match command:
        case c.RemoteStart():
            payload: dict[str, Any] = {"idTag": command.id_token}
            if command.evse_id is not None:
                payload["connectorId"] = command.evse_id
            if command.charging_profile is not None:
                payload["chargingProfile"] = command.charging_profile
            return "RemoteStartTransaction", payload
        case c.RemoteStop():
            if not command.charger_transaction_id.isdigit():
                raise c.CommandNotSupported("1.6 transaction ids are integers")
            return "RemoteStopTransaction", {"transactionId": int(command.charger_transaction_id)}
        case c.Reset():
            if command.evse_id is not None:
                raise c.CommandNotSupported("OCPP 1.6 resets the whole charge point only")
            return "Reset", {"type": command.kind.capitalize()}
        case c.UnlockConnector():
            return "UnlockConnector", {"connectorId": command.evse_id}
        case c.ChangeAvailability():
            kind = "Operative" if command.operative else "Inoperative"
            return "ChangeAvailability", {"connectorId": command.evse_id or 0, "type": kind}
        case c.GetConfiguration():
            return "GetConfiguration", {"key": list(command.keys)} if command.keys else {}
        case c.ChangeConfiguration():
            return "ChangeConfiguration", {"key": command.key, "value": command.value}
        case c.ClearCache():
            return "ClearCache", {}
        case c.DataTransfer():
            return "DataTransfer", _present(
                vendorId=command.vendor_id, messageId=command.message_id, data=command.data
            )
        case c.TriggerMessage():
            return "TriggerMessage", _present(
                requestedMessage=command.message, connectorId=command.evse_id
            )
        case c.GetDiagnostics():
            return "GetDiagnostics", _present(
                location=command.location,
                retries=command.retries,
                retryInterval=command.retry_interval,
                startTime=format_utc(command.start_time) if command.start_time else None,
                stopTime=format_utc(command.stop_time) if command.stop_time else None,
            )
        case c.UpdateFirmware():
            return "UpdateFirmware", _present(
                location=command.location,
                retrieveDate=format_utc(command.retrieve_date),
                retries=command.retries,
                retryInterval=command.retry_interval,
            )
        case c.ReserveNow():
            return "ReserveNow", _present(
                connectorId=command.evse_id or 0,
                expiryDate=format_utc(command.expires_at),
                idTag=command.id_token,
                reservationId=command.reservation_id,
                parentIdTag=command.group_id,
            )
        case c.CancelReservation():
            return "CancelReservation", {"reservationId": command.reservation_id}
    raise c.CommandNotSupported(f"{command.name} has no OCPP 1.6 form")


def _present(**fields: Any) -> dict[str, Any]:
    """The payload without the optional fields that were not given."""
    return {key: value for key, value in fields.items() if value is not None}
