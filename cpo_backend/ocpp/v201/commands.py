"""Version-neutral commands as OCPP 2.0.1 calls.

Where the neutral command speaks 1.6 (configuration keys, ``soft``/``hard`` resets,
1.6 TriggerMessage names), the 2.0.1 equivalent is chosen here; see docs/ocpp.md.
"""

from __future__ import annotations

from typing import Any

from cpo_backend.domain import commands as c
from cpo_backend.domain.commands import VariableRef
from cpo_backend.domain.time import format_utc
from cpo_backend.ocpp.binding import plain_result
from cpo_backend.ocpp.v201.variables import (
    CONFIGURATION_KEYS,
    component_variable,
    get_variable_data,
    set_variable_data,
    variable_for_key,
)

# Neutral soft/hard reset: soft waits for transactions to end, hard does not.
_RESET_TYPES = {"soft": "OnIdle", "hard": "Immediate"}

# 1.6 TriggerMessage names whose 2.0.1 message differs; 2.0.1 names pass unchanged.
_TRIGGERED = {"DiagnosticsStatusNotification": "LogStatusNotification"}


def translate(command: c.Command) -> tuple[str, dict[str, Any]]:
    match command:
        case c.RemoteStart():
            payload: dict[str, Any] = {
                "idToken": {"idToken": command.id_token, "type": command.id_token_type},
                "remoteStartId": command.remote_start_id or c.next_request_id(),
            }
            return "RequestStartTransaction", _present(
                payload, evseId=command.evse_id, chargingProfile=command.charging_profile
            )
        case c.RemoteStop():
            return "RequestStopTransaction", {"transactionId": command.charger_transaction_id}
        case c.Reset():
            return "Reset", _present({"type": _RESET_TYPES[command.kind]}, evseId=command.evse_id)
        case c.UnlockConnector():
            return "UnlockConnector", {
                "evseId": command.evse_id,
                "connectorId": command.connector_id,
            }
        case c.ChangeAvailability():
            return "ChangeAvailability", _present(
                {"operationalStatus": "Operative" if command.operative else "Inoperative"},
                evse=_evse(command.evse_id, command.connector_id),
            )
        case c.GetConfiguration():
            keys = command.keys or tuple(CONFIGURATION_KEYS)
            return "GetVariables", {
                "getVariableData": [get_variable_data(variable_for_key(key)) for key in keys]
            }
        case c.ChangeConfiguration():
            return "SetVariables", {
                "setVariableData": [set_variable_data(variable_for_key(command.key, command.value))]
            }
        case c.GetVariables():
            return "GetVariables", {
                "getVariableData": [get_variable_data(ref) for ref in command.variables]
            }
        case c.SetVariables():
            return "SetVariables", {
                "setVariableData": [set_variable_data(ref) for ref in command.variables]
            }
        case c.GetBaseReport():
            return "GetBaseReport", {
                "requestId": command.request_id,
                "reportBase": command.report_base,
            }
        case c.GetReport():
            return "GetReport", _present(
                {"requestId": command.request_id},
                componentVariable=[component_variable(ref) for ref in command.variables] or None,
                componentCriteria=list(command.criteria) or None,
            )
        case c.GetTransactionStatus():
            return "GetTransactionStatus", _present(
                {}, transactionId=command.charger_transaction_id
            )
        case c.SetNetworkProfile():
            return "SetNetworkProfile", {
                "configurationSlot": command.configuration_slot,
                "connectionData": command.connection_data,
            }
        case c.ClearCache():
            return "ClearCache", {}
        case c.DataTransfer():
            return "DataTransfer", _present(
                {"vendorId": command.vendor_id}, messageId=command.message_id, data=command.data
            )
        case c.TriggerMessage():
            return "TriggerMessage", _present(
                {"requestedMessage": _TRIGGERED.get(command.message, command.message)},
                evse=_evse(command.evse_id, None),
            )
        case c.GetDiagnostics():
            log = _present(
                {"remoteLocation": command.location},
                oldestTimestamp=format_utc(command.start_time) if command.start_time else None,
                latestTimestamp=format_utc(command.stop_time) if command.stop_time else None,
            )
            return "GetLog", _present(
                {"logType": "DiagnosticsLog", "requestId": c.next_request_id(), "log": log},
                retries=command.retries,
                retryInterval=command.retry_interval,
            )
        case c.UpdateFirmware():
            firmware = {
                "location": command.location,
                "retrieveDateTime": format_utc(command.retrieve_date),
            }
            return "UpdateFirmware", _present(
                {"requestId": c.next_request_id(), "firmware": firmware},
                retries=command.retries,
                retryInterval=command.retry_interval,
            )
    raise c.CommandNotSupported(f"{command.name} has no OCPP 2.0.1 form")


def _evse(evse_id: int | None, connector_id: int | None) -> dict[str, int] | None:
    """An EVSEType, or None for the whole station."""
    if evse_id is None:
        return None
    return {"id": evse_id} if connector_id is None else {"id": evse_id, "connectorId": connector_id}


def _present(required: dict[str, Any], **optional: Any) -> dict[str, Any]:
    """``required`` plus the optional fields that were given."""
    return required | {key: value for key, value in optional.items() if value is not None}


# SetVariables attribute statuses in the words of a 1.6 ChangeConfiguration answer.
_CHANGE_STATUS = {
    "Accepted": "Accepted",
    "Rejected": "Rejected",
    "RebootRequired": "RebootRequired",
    "UnknownComponent": "NotSupported",
    "UnknownVariable": "NotSupported",
    "NotSupportedAttributeType": "NotSupported",
}


def interpret(command: c.Command, answer: dict[str, Any]) -> c.CommandResult:
    """The 2.0.1 answer in the terms of the neutral (1.6-speaking) command.

    GetConfiguration and ChangeConfiguration become GetVariables and SetVariables, whose
    answers have per-variable results instead of one status: they are turned back into
    the 1.6 shape, with the 2.0.1 answer kept under ``ocpp201``.
    """
    match command:
        case c.ChangeConfiguration():
            results = answer.get("setVariableResult") or [{}]
            status = _CHANGE_STATUS.get(results[0].get("attributeStatus", ""), "Rejected")
            return c.CommandResult(status, {"status": status, "ocpp201": answer})
        case c.GetConfiguration():
            keys = command.keys or tuple(CONFIGURATION_KEYS)
            names = {_address(variable_for_key(key)): key for key in keys}
            known: list[dict[str, Any]] = []
            unknown: list[str] = []
            for result in answer.get("getVariableResult") or []:
                key = names.get(
                    (result["component"]["name"], result["variable"]["name"]),
                    f"{result['component']['name']}.{result['variable']['name']}",
                )
                if result.get("attributeStatus") == "Accepted":
                    known.append(
                        {"key": key, "readonly": False, "value": result.get("attributeValue")}
                    )
                else:
                    unknown.append(key)
            shaped = {"configurationKey": known, "unknownKey": unknown, "ocpp201": answer}
            return c.CommandResult(None, shaped)
    return plain_result(answer)


def _address(ref: VariableRef) -> tuple[str, str]:
    return ref.component, ref.variable
