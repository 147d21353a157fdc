"""Version-neutral commands as OCPP 1.6 calls, and 1.6 answers as their results."""

from __future__ import annotations

from typing import Any

from cpo_backend.domain import commands as c
from cpo_backend.domain.charging import ChargingProfile
from cpo_backend.domain.time import format_utc
from cpo_backend.ocpp.answers import (
    common_call,
    common_result,
    present,
    profile_fields,
    schedule_fields,
)


def translate(command: c.Command[c.CommandResult]) -> tuple[str, dict[str, Any]]:
    common = common_call(command)
    if common is not None:
        return common
    match command:
        case c.RemoteStart():
            payload: dict[str, Any] = {"idTag": command.id_token}
            if command.evse_id is not None:
                payload["connectorId"] = command.evse_id
            if command.charging_profile is not None:
                payload["chargingProfile"] = charging_profile(command.charging_profile)
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
        case c.TriggerMessage():
            if command.message not in _TRIGGERABLE:
                raise c.CommandNotSupported(f"OCPP 1.6 cannot trigger {command.message}")
            return "TriggerMessage", present(
                {"requestedMessage": command.message.value}, connectorId=command.evse_id
            )
        case c.GetDiagnostics():
            return "GetDiagnostics", present(
                {"location": command.location},
                retries=command.retries,
                retryInterval=command.retry_interval,
                startTime=format_utc(command.start_time) if command.start_time else None,
                stopTime=format_utc(command.stop_time) if command.stop_time else None,
            )
        case c.UpdateFirmware():
            return "UpdateFirmware", present(
                {"location": command.location, "retrieveDate": format_utc(command.retrieve_date)},
                retries=command.retries,
                retryInterval=command.retry_interval,
            )
        case c.ReserveNow():
            return "ReserveNow", present(
                {
                    "connectorId": command.evse_id or 0,
                    "expiryDate": format_utc(command.expires_at),
                    "idTag": command.id_token,
                    "reservationId": command.reservation_id,
                },
                parentIdTag=command.group_id,
            )
        case c.CancelReservation():
            return "CancelReservation", {"reservationId": command.reservation_id}
    raise c.CommandNotSupported(f"{command.name} has no OCPP 1.6 form")


# What a 1.6 TriggerMessage can ask for (the 2.0.1-only messages are not among them).
_TRIGGERABLE = {
    c.TriggeredMessage.BOOT_NOTIFICATION,
    c.TriggeredMessage.HEARTBEAT,
    c.TriggeredMessage.STATUS_NOTIFICATION,
    c.TriggeredMessage.METER_VALUES,
    c.TriggeredMessage.DIAGNOSTICS_STATUS,
    c.TriggeredMessage.FIRMWARE_STATUS,
}


def charging_profile(profile: ChargingProfile) -> dict[str, Any]:
    """A csChargingProfiles (1.6 transaction ids are integers)."""
    transaction = profile.charger_transaction_id
    if transaction is not None and not transaction.isdigit():
        raise c.CommandNotSupported("1.6 transaction ids are integers")
    return present(
        {
            "chargingProfileId": profile.id,
            **profile_fields(profile, station_max="ChargePointMaxProfile"),
            "chargingSchedule": schedule_fields(profile.schedule),
        },
        transactionId=int(transaction) if transaction is not None else None,
    )


def interpret(command: c.Command[c.CommandResult], answer: dict[str, Any]) -> c.CommandResult:
    """The 1.6 answer to ``command`` as its typed result."""
    match command:
        case c.GetConfiguration():
            values = tuple(
                c.ConfigurationValue(entry["key"], entry.get("value"), entry["readonly"])
                for entry in answer.get("configurationKey") or []
            )
            return c.ConfigurationValues(values, tuple(answer.get("unknownKey") or []))
        case c.ChangeConfiguration():
            return c.ConfigurationChange(c.CommandStatus(answer["status"]))
        case c.GetDiagnostics():
            # 1.6 says no more than a file name, and none when there is nothing to upload.
            file_name = answer.get("fileName")
            if file_name is None:
                return c.DiagnosticsUpload(c.CommandStatus.REJECTED)
            return c.DiagnosticsUpload(c.CommandStatus.ACCEPTED, file_name)
        case c.UpdateFirmware():
            # A 1.6 UpdateFirmware.conf is empty: answering is accepting.
            return c.Acknowledgement(c.CommandStatus.ACCEPTED)
    return common_result(command, answer)
