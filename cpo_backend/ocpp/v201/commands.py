"""Version-neutral commands as OCPP 2.0.1 calls, and 2.0.1 answers as their results.

Where a neutral command names a 1.6 idea (configuration keys, a diagnostics upload), the
2.0.1 equivalent is chosen here (device-model variables, GetLog); see docs/ocpp.md.
"""

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
    reason_of,
    schedule_fields,
)
from cpo_backend.ocpp.v201.variables import (
    CONFIGURATION_KEYS,
    component_variable,
    get_variable_data,
    set_variable_data,
    variable_for_key,
    variable_of_result,
)

# Neutral soft/hard reset: soft waits for transactions to end, hard does not.
_RESET_TYPES = {"soft": "OnIdle", "hard": "Immediate"}

# Neutral TriggerMessage names whose 2.0.1 message differs; the others are the same.
_TRIGGERED = {c.TriggeredMessage.DIAGNOSTICS_STATUS: "LogStatusNotification"}


def translate(command: c.Command[c.CommandResult]) -> tuple[str, dict[str, Any]]:
    common = common_call(command)
    if common is not None:
        return common
    match command:
        case c.RemoteStart():
            payload: dict[str, Any] = {
                "idToken": {"idToken": command.id_token, "type": command.id_token_type},
                "remoteStartId": command.remote_start_id or c.next_request_id(),
            }
            profile = command.charging_profile
            return "RequestStartTransaction", present(
                payload,
                evseId=command.evse_id,
                chargingProfile=charging_profile(profile) if profile else None,
            )
        case c.RemoteStop():
            return "RequestStopTransaction", {"transactionId": command.charger_transaction_id}
        case c.Reset():
            return "Reset", present({"type": _RESET_TYPES[command.kind]}, evseId=command.evse_id)
        case c.UnlockConnector():
            return "UnlockConnector", {
                "evseId": command.evse_id,
                "connectorId": command.connector_id,
            }
        case c.ChangeAvailability():
            return "ChangeAvailability", present(
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
            return "GetReport", present(
                {"requestId": command.request_id},
                componentVariable=[component_variable(ref) for ref in command.variables] or None,
                componentCriteria=list(command.criteria) or None,
            )
        case c.GetTransactionStatus():
            return "GetTransactionStatus", present({}, transactionId=command.charger_transaction_id)
        case c.SetNetworkProfile():
            return "SetNetworkProfile", {
                "configurationSlot": command.configuration_slot,
                "connectionData": connection_data(command.profile),
            }
        case c.TriggerMessage():
            return "TriggerMessage", present(
                {"requestedMessage": _TRIGGERED.get(command.message, command.message.value)},
                evse=_evse(command.evse_id, None),
            )
        case c.GetDiagnostics():
            log = present(
                {"remoteLocation": command.location},
                oldestTimestamp=format_utc(command.start_time) if command.start_time else None,
                latestTimestamp=format_utc(command.stop_time) if command.stop_time else None,
            )
            return "GetLog", present(
                {"logType": "DiagnosticsLog", "requestId": c.next_request_id(), "log": log},
                retries=command.retries,
                retryInterval=command.retry_interval,
            )
        case c.UpdateFirmware():
            firmware = {
                "location": command.location,
                "retrieveDateTime": format_utc(command.retrieve_date),
            }
            return "UpdateFirmware", present(
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


def charging_profile(profile: ChargingProfile) -> dict[str, Any]:
    """A ChargingProfileType with its one schedule (numbered as the profile)."""
    return present(
        {
            "id": profile.id,
            **profile_fields(profile, station_max="ChargingStationMaxProfile"),
            "chargingSchedule": [{"id": profile.id, **schedule_fields(profile.schedule)}],
        },
        transactionId=profile.charger_transaction_id,
    )


def connection_data(profile: c.NetworkProfile) -> dict[str, Any]:
    """A NetworkConnectionProfileType."""
    vpn, apn = profile.vpn, profile.apn
    return present(
        {
            "ocppVersion": profile.ocpp_version,
            "ocppTransport": profile.transport,
            "ocppCsmsUrl": profile.csms_url,
            "messageTimeout": profile.message_timeout,
            "securityProfile": profile.security_profile,
            "ocppInterface": profile.interface,
        },
        vpn=present(
            {
                "server": vpn.server,
                "user": vpn.user,
                "password": vpn.password,
                "key": vpn.key,
                "type": vpn.kind,
            },
            group=vpn.group,
        )
        if vpn
        else None,
        apn=present(
            {"apn": apn.apn, "apnAuthentication": apn.authentication},
            apnUserName=apn.user_name,
            apnPassword=apn.password,
            simPin=apn.sim_pin,
            preferredNetwork=apn.preferred_network,
            useOnlyPreferredNetwork=apn.use_only_preferred_network,
        )
        if apn
        else None,
    )


# A SetVariables attribute status as the status of a configuration change.
_CHANGE_STATUS = {
    c.VariableStatus.ACCEPTED: c.CommandStatus.ACCEPTED,
    c.VariableStatus.REJECTED: c.CommandStatus.REJECTED,
    c.VariableStatus.REBOOT_REQUIRED: c.CommandStatus.REBOOT_REQUIRED,
    c.VariableStatus.UNKNOWN_COMPONENT: c.CommandStatus.NOT_SUPPORTED,
    c.VariableStatus.UNKNOWN_VARIABLE: c.CommandStatus.NOT_SUPPORTED,
    c.VariableStatus.NOT_SUPPORTED_ATTRIBUTE_TYPE: c.CommandStatus.NOT_SUPPORTED,
}


def interpret(command: c.Command[c.CommandResult], answer: dict[str, Any]) -> c.CommandResult:
    """The 2.0.1 answer to ``command`` as its typed result.

    GetConfiguration and ChangeConfiguration went out as GetVariables and SetVariables:
    the per-variable results are read back as configuration keys, and kept beside them.
    """
    match command:
        case c.GetVariables() | c.SetVariables():
            return c.VariableResults(_variable_results(command, answer))
        case c.GetConfiguration():
            results = _variable_results(command, answer)
            keys = command.keys or tuple(CONFIGURATION_KEYS)
            names = {_address(variable_for_key(key)): key for key in keys}
            values: list[c.ConfigurationValue] = []
            unknown: list[str] = []
            for result in results:
                ref = result.variable
                key = names.get(_address(ref), f"{ref.component}.{ref.variable}")
                if result.status == c.VariableStatus.ACCEPTED:
                    values.append(c.ConfigurationValue(key, result.value, readonly=False))
                else:
                    unknown.append(key)
            return c.ConfigurationValues(tuple(values), tuple(unknown), results)
        case c.ChangeConfiguration():
            (result, *_) = _variable_results(command, answer)
            return c.ConfigurationChange(_CHANGE_STATUS[result.status], result)
        case c.GetTransactionStatus():
            return c.TransactionState(answer.get("ongoingIndicator"), answer["messagesInQueue"])
        case c.GetDiagnostics():
            return c.DiagnosticsUpload(c.CommandStatus(answer["status"]), answer.get("filename"))
    return common_result(command, answer)


def _variable_results(
    command: c.GetVariables | c.SetVariables | c.GetConfiguration | c.ChangeConfiguration,
    answer: dict[str, Any],
) -> tuple[c.VariableResult, ...]:
    """Each variable's result; for a set, with the value it was asked to take."""
    asked: tuple[c.VariableRef, ...] = ()
    field = "getVariableResult"
    match command:
        case c.SetVariables():
            field, asked = "setVariableResult", command.variables
        case c.ChangeConfiguration():
            field, asked = "setVariableResult", (variable_for_key(command.key, command.value),)
    return tuple(variable_of_result(result, reason_of(result), asked) for result in answer[field])


def _address(ref: c.VariableRef) -> tuple[str, str]:
    return ref.component, ref.variable
