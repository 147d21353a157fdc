"""The neutral command types against the OCPP schemas they are translated to.

A charger's answer is read into :class:`CommandStatus` or :class:`VariableStatus`; a word
of a schema missing from them would turn a valid answer into an error. These tests read
every status enum of the answers to the actions our commands become, in both versions.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from importlib import resources
from typing import Any

import pytest

from cpo_backend.domain import commands as c

# The actions each version's translation sends (docs/ocpp.md lists them by command).
ACTIONS = {
    "v16": [
        "RemoteStartTransaction",
        "RemoteStopTransaction",
        "Reset",
        "UnlockConnector",
        "ChangeAvailability",
        "GetConfiguration",
        "ChangeConfiguration",
        "ClearCache",
        "DataTransfer",
        "TriggerMessage",
        "GetDiagnostics",
        "UpdateFirmware",
        "ReserveNow",
        "CancelReservation",
    ],
    "v201": [
        "RequestStartTransaction",
        "RequestStopTransaction",
        "Reset",
        "UnlockConnector",
        "ChangeAvailability",
        "GetVariables",
        "SetVariables",
        "GetBaseReport",
        "GetReport",
        "GetTransactionStatus",
        "SetNetworkProfile",
        "ClearCache",
        "DataTransfer",
        "TriggerMessage",
        "GetLog",
        "UpdateFirmware",
        "ReserveNow",
        "CancelReservation",
    ],
}


def _response_schema(version: str, action: str) -> dict[str, Any]:
    folder = resources.files(f"ocpp.{version}") / "schemas"
    return dict(json.loads((folder / f"{action}Response.json").read_text()))


def _status_enums(node: Any, key: str = "") -> Iterator[tuple[str, list[str]]]:
    """(property name, values) of each enum that says a status."""
    if isinstance(node, dict):
        if "enum" in node and "status" in key.lower():
            yield key, node["enum"]
        for name, child in node.items():
            yield from _status_enums(child, name if name != "properties" else key)
    elif isinstance(node, list):
        for child in node:
            yield from _status_enums(child, key)


@pytest.mark.parametrize(
    ("version", "action"), [(v, a) for v, actions in ACTIONS.items() for a in actions]
)
def test_every_status_a_charger_may_answer_has_a_neutral_word(version: str, action: str) -> None:
    for key, values in _status_enums(_response_schema(version, action)):
        words = c.VariableStatus if "variable" in key.lower() else c.CommandStatus
        assert set(values) <= {word.value for word in words}, (version, action, key)


def test_every_command_says_what_it_answers() -> None:
    commands = [
        kind
        for kind in vars(c).values()
        if isinstance(kind, type) and issubclass(kind, c.Command) and kind is not c.Command
    ]
    assert len(commands) >= 20
    for kind in commands:
        assert c.result_type_of(kind) in c.CommandResult.__args__, kind
