"""1.6 configuration keys as 2.0.1 device-model variables.

The version-neutral GetConfiguration/ChangeConfiguration commands name 1.6 keys; a 2.0.1
station has components and variables instead. The common keys map as below (from the
OCPP 2.0.1 part 2 appendix "Standardized Components/Variables" and the 1.6 -> 2.0.1
migration notes); any other name is read as ``Component.Variable`` or
``Component/Variable``, so every 2.0.1 variable stays reachable. The table is repeated in
docs/ocpp.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from cpo_backend.domain.commands import (
    CommandNotSupported,
    VariableRef,
    VariableResult,
    VariableStatus,
)
from cpo_backend.domain.devicemodel import ReportedVariable

# 1.6 key -> (component, variable, variable instance)
CONFIGURATION_KEYS: dict[str, tuple[str, str, str | None]] = {
    "HeartbeatInterval": ("OCPPCommCtrlr", "HeartbeatInterval", None),
    "WebSocketPingInterval": ("OCPPCommCtrlr", "WebSocketPingInterval", None),
    "ResetRetries": ("OCPPCommCtrlr", "ResetRetries", None),
    "TransactionMessageAttempts": ("OCPPCommCtrlr", "MessageAttempts", "TransactionEvent"),
    "TransactionMessageRetryInterval": (
        "OCPPCommCtrlr",
        "MessageAttemptInterval",
        "TransactionEvent",
    ),
    "MeterValueSampleInterval": ("SampledDataCtrlr", "TxUpdatedInterval", None),
    "MeterValuesSampledData": ("SampledDataCtrlr", "TxUpdatedMeasurands", None),
    "StopTxnSampledData": ("SampledDataCtrlr", "TxEndedMeasurands", None),
    "ClockAlignedDataInterval": ("AlignedDataCtrlr", "Interval", None),
    "MeterValuesAlignedData": ("AlignedDataCtrlr", "Measurands", None),
    "StopTxnAlignedData": ("AlignedDataCtrlr", "TxEndedMeasurands", None),
    "ConnectionTimeOut": ("TxCtrlr", "EVConnectionTimeOut", None),
    "StopTransactionOnInvalidId": ("TxCtrlr", "StopTxOnInvalidId", None),
    "StopTransactionOnEVSideDisconnect": ("TxCtrlr", "StopTxOnEVSideDisconnect", None),
    "AuthorizeRemoteTxRequests": ("AuthCtrlr", "AuthorizeRemoteStart", None),
    "LocalAuthorizeOffline": ("AuthCtrlr", "LocalAuthorizeOffline", None),
    "LocalPreAuthorize": ("AuthCtrlr", "LocalPreAuthorize", None),
    "AllowOfflineTxForUnknownId": ("AuthCtrlr", "OfflineTxForUnknownIdEnabled", None),
    "AuthorizationCacheEnabled": ("AuthCacheCtrlr", "Enabled", None),
    "LocalAuthListEnabled": ("LocalAuthListCtrlr", "Enabled", None),
    "SendLocalListMaxLength": ("LocalAuthListCtrlr", "ItemsPerMessage", "SendLocalList"),
    "ConnectorPhaseRotation": ("ChargingStation", "PhaseRotation", None),
    "SecurityProfile": ("SecurityCtrlr", "SecurityProfile", None),
    "AuthorizationKey": ("SecurityCtrlr", "BasicAuthPassword", None),
    "CpoName": ("SecurityCtrlr", "OrganizationName", None),
    "ChargeProfileMaxStackLevel": ("SmartChargingCtrlr", "ProfileStackLevel", None),
    "ChargingScheduleAllowedChargingRateUnit": ("SmartChargingCtrlr", "RateUnit", None),
    "ChargingScheduleMaxPeriods": ("SmartChargingCtrlr", "PeriodsPerSchedule", None),
    "MaxChargingProfilesInstalled": ("SmartChargingCtrlr", "Entries", "ChargingProfiles"),
}


def variable_for_key(key: str, value: str | None = None) -> VariableRef:
    """The variable a 1.6 key or a ``Component.Variable`` name stands for."""
    mapped = CONFIGURATION_KEYS.get(key)
    if mapped is not None:
        component, variable, instance = mapped
        return VariableRef(component, variable, value=value, variable_instance=instance)
    for separator in ("/", "."):
        component, found, variable = key.partition(separator)
        if found and component and variable:
            return VariableRef(component, variable, value=value)
    raise CommandNotSupported(f"{key!r} is neither a known 1.6 key nor a Component.Variable name")


def component_variable(ref: VariableRef) -> dict[str, Any]:
    """The ``component`` and ``variable`` objects of a 2.0.1 request."""
    component: dict[str, Any] = {"name": ref.component}
    if ref.component_instance is not None:
        component["instance"] = ref.component_instance
    if ref.evse_id is not None:
        evse: dict[str, Any] = {"id": ref.evse_id}
        if ref.connector_id is not None:
            evse["connectorId"] = ref.connector_id
        component["evse"] = evse
    variable: dict[str, Any] = {"name": ref.variable}
    if ref.variable_instance is not None:
        variable["instance"] = ref.variable_instance
    return {"component": component, "variable": variable}


def get_variable_data(ref: VariableRef) -> dict[str, Any]:
    return {"attributeType": ref.attribute_type, **component_variable(ref)}


def set_variable_data(ref: VariableRef) -> dict[str, Any]:
    if ref.value is None:
        raise CommandNotSupported(f"no value to set for {ref.component}.{ref.variable}")
    return {
        "attributeType": ref.attribute_type,
        "attributeValue": ref.value,
        **component_variable(ref),
    }


def variable_of_result(
    result: dict[str, Any], reason: str | None, asked: Sequence[VariableRef] = ()
) -> VariableResult:
    """A Get/SetVariableResult as a typed result. A SetVariableResult does not repeat the
    value; it is the one ``asked`` for the same variable."""
    ref = _address(result, result.get("attributeType", "Actual"))
    value = result.get("attributeValue")
    if value is None:
        value = next((a.value for a in asked if replace(a, value=None) == ref), None)
    return VariableResult(ref, VariableStatus(result["attributeStatus"]), value, reason)


def reported_variable(data: dict[str, Any]) -> ReportedVariable:
    """A NotifyReport ReportDataType: the variable's address, and its attributes and
    characteristics as reported."""
    return ReportedVariable(
        _address(data),
        tuple(data["variableAttribute"]),
        data.get("variableCharacteristics"),
    )


def _address(data: dict[str, Any], attribute_type: Any = "Actual") -> VariableRef:
    """The component and variable objects of a result or report entry as a reference."""
    component, variable = data["component"], data["variable"]
    evse = component.get("evse") or {}
    return VariableRef(
        component["name"],
        variable["name"],
        attribute_type=attribute_type,
        component_instance=component.get("instance"),
        variable_instance=variable.get("instance"),
        evse_id=evse.get("id"),
        connector_id=evse.get("connectorId"),
    )
