"""A small OCPP 2.0.1 device model: the components and variables a CSMS usually touches.

Kept apart from the station so GetVariables/SetVariables/GetReport rules stay readable.
Only the ``Actual`` attribute exists and variable instances/EVSE scopes are ignored,
which is what most CSMS features rely on.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from simulators.outlet import DEFAULT_MEASURANDS
from simulators.settings import Kind, Setting

Key = tuple[str, str]
"""(component name, variable name)."""

SUMMARY_COMPONENTS = ("ChargingStation", "SecurityCtrlr")


def default_device_model(
    cp_id: str, vendor: str, model: str, security_profile: int
) -> dict[Key, Setting]:
    """Factory values of the variables the simulator implements."""
    integer, boolean, measurands = Kind.INTEGER, Kind.BOOLEAN, Kind.MEASURANDS
    return {
        ("ChargingStation", "Model"): Setting(model, readonly=True),
        ("ChargingStation", "VendorName"): Setting(vendor, readonly=True),
        ("ChargingStation", "AvailabilityState"): Setting("Available", readonly=True),
        ("SecurityCtrlr", "Identity"): Setting(cp_id, readonly=True),
        ("SecurityCtrlr", "SecurityProfile"): Setting(str(security_profile), integer, True),
        ("OCPPCommCtrlr", "HeartbeatInterval"): Setting("300", integer),
        ("OCPPCommCtrlr", "NetworkConfigurationPriority"): Setting("0"),
        ("OCPPCommCtrlr", "OfflineThreshold"): Setting("60", integer),
        ("AuthCtrlr", "AuthorizeRemoteStart"): Setting("true", boolean),
        ("AuthCtrlr", "LocalAuthorizeOffline"): Setting("false", boolean),
        ("TxCtrlr", "EVConnectionTimeOut"): Setting("60", integer),
        ("TxCtrlr", "StopTxOnInvalidId"): Setting("true", boolean),
        ("TxCtrlr", "TxStartPoint"): Setting("EVConnected,Authorized", readonly=True),
        ("TxCtrlr", "TxStopPoint"): Setting("EVConnected,Authorized", readonly=True),
        ("SampledDataCtrlr", "TxStartedMeasurands"): Setting(
            "Energy.Active.Import.Register", measurands
        ),
        ("SampledDataCtrlr", "TxUpdatedInterval"): Setting("60", integer),
        ("SampledDataCtrlr", "TxUpdatedMeasurands"): Setting(DEFAULT_MEASURANDS, measurands),
        ("SampledDataCtrlr", "TxEndedMeasurands"): Setting(
            "Energy.Active.Import.Register", measurands
        ),
    }


class DeviceModel:
    """Answers the device-model requests over a ``(component, variable) → Setting`` map."""

    def __init__(self, variables: dict[Key, Setting]) -> None:
        self.variables = variables

    def __getitem__(self, key: Key) -> Setting:
        return self.variables[key]

    def _lookup(self, request: Mapping[str, Any]) -> tuple[str, Setting | None]:
        """Attribute status of a lookup, with the setting when it exists."""
        component, variable = request["component"]["name"], request["variable"]["name"]
        if request.get("attribute_type", "Actual") != "Actual":
            return "NotSupportedAttributeType", None
        if not any(c == component for c, _ in self.variables):
            return "UnknownComponent", None
        setting = self.variables.get((component, variable))
        return ("Accepted", setting) if setting else ("UnknownVariable", None)

    def get(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """One GetVariableResult for a GetVariableData entry (snake_case)."""
        status, setting = self._lookup(request)
        result: dict[str, Any] = {
            "attribute_status": status,
            "attribute_type": request.get("attribute_type", "Actual"),
            "component": request["component"],
            "variable": request["variable"],
        }
        if setting is not None:
            result["attribute_value"] = setting.value
        return result

    def set(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """One SetVariableResult for a SetVariableData entry; applies accepted values."""
        status, setting = self._lookup(request)
        value = request["attribute_value"]
        if setting is not None and (setting.readonly or not setting.accepts(value)):
            status = "Rejected"
        elif setting is not None:
            setting.value = value
        return {
            "attribute_status": status,
            "attribute_type": request.get("attribute_type", "Actual"),
            "component": request["component"],
            "variable": request["variable"],
        }

    def report(
        self, base: str | None = None, wanted: Iterable[Mapping[str, Any]] | None = None
    ) -> list[dict[str, Any]]:
        """ReportData for GetBaseReport (``base``) or GetReport (``wanted`` filters)."""
        selected = [
            (key, setting)
            for key, setting in self.variables.items()
            if (base != "ConfigurationInventory" or not setting.readonly)
            and (base != "SummaryInventory" or key[0] in SUMMARY_COMPONENTS)
            and (wanted is None or any(_matches(key, w) for w in wanted))
        ]
        return [
            {
                "component": {"name": component},
                "variable": {"name": variable},
                "variable_attribute": [
                    {
                        "type": "Actual",
                        "value": setting.value,
                        "mutability": "ReadOnly" if setting.readonly else "ReadWrite",
                    }
                ],
                "variable_characteristics": {
                    "data_type": setting.kind.value,
                    "supports_monitoring": False,
                },
            }
            for (component, variable), setting in selected
        ]


def _matches(key: Key, wanted: Mapping[str, Any]) -> bool:
    variable = wanted.get("variable")
    return key[0] == wanted["component"]["name"] and (
        variable is None or key[1] == variable["name"]
    )
