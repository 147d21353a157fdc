"""Broken frames and schema-breaking calls: each answered with the right CallError, the
connection kept, nothing already accepted lost."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from ocpp.exceptions import OCPPError
from websockets.exceptions import ConnectionClosed

from simulators.ocpp16 import ChargePoint16, connect
from tests.e2e.helpers import create_token, get_json, transaction

CP = "CP_BAD"


@pytest.fixture
async def cp(ocpp_url: str, api: httpx.AsyncClient) -> AsyncIterator[ChargePoint16]:
    """A booted charger with one active transaction that no bad input may disturb."""
    await create_token(api, "DRIVER-B")
    async with connect(ocpp_url, CP) as sim:
        await sim.start_up()
        await sim.start_transaction(1, "DRIVER-B", meter_start=500)
        yield sim


async def still_fine(cp: ChargePoint16, api: httpx.AsyncClient) -> None:
    """The connection answers, the station is online and its transaction untouched."""
    assert cp.connected
    assert (await cp.heartbeat()).current_time.endswith("Z")
    transaction_id = cp.connector(1).transaction_id
    assert transaction_id is not None
    stored = await transaction(api, transaction_id)
    assert (stored["status"], stored["id_token"]) == ("active", "DRIVER-B")
    found = await get_json(api, f"/api/stations/{CP}")
    assert found["online"] is True
    assert found["vendor"] == "CPO-Sim"


def call_error(text: str) -> tuple[str, str]:
    """The unique id and error code of a CALLERROR frame."""
    frame = json.loads(text)
    assert isinstance(frame, list)
    assert len(frame) == 5, frame
    assert frame[0] == 4
    assert isinstance(frame[3], str)
    assert isinstance(frame[4], dict)
    return frame[1], frame[2]


# (frame, the unique id of the answer, its error code)
BROKEN_FRAMES = [
    ("this is not json", "-1", "FormationViolation"),
    ('[2, "j-1", "Heartbeat", {', "j-1", "FormationViolation"),  # cut, its id still readable
    ('{"action": "Heartbeat"}', "-1", "FormationViolation"),  # not an array
    ("[2]", "-1", "FormationViolation"),
    ('[2, "c-3", "Heartbeat"]', "c-3", "FormationViolation"),  # a CALL of 3 elements
    ('[2, "c-5", "Heartbeat", {}, {}]', "c-5", "FormationViolation"),  # ... and of 5
    ('[2, 17, "Heartbeat", {}]', "-1", "FormationViolation"),  # a numeric message id
    ('[2, "p-1", "Heartbeat", []]', "p-1", "FormationViolation"),  # a list as payload
    ('[7, "t-7", "Heartbeat", {}]', "t-7", "PropertyConstraintViolation"),  # unknown type
]

# (action, payload, error code)
REFUSED_CALLS: list[tuple[str, dict[str, Any], str]] = [
    ("Teleport", {}, "NotImplemented"),
    ("Reset", {"type": "Hard"}, "NotSupported"),  # the CSMS's action, not the charger's
    ("Authorize", {}, "ProtocolError"),  # a required field missing
    ("Authorize", {"idTag": 42}, "TypeConstraintViolation"),
    ("Authorize", {"idTag": "X" * 21}, "TypeConstraintViolation"),  # too long
    (
        "StatusNotification",
        {"connectorId": 1, "errorCode": "NoError", "status": "Sleeping"},
        "PropertyConstraintViolation",  # not in the enum
    ),
    ("Heartbeat", {"mood": "happy"}, "FormationViolation"),  # an additional property
    (
        "StartTransaction",
        {"connectorId": 1, "idTag": "DRIVER-B", "meterStart": 0, "timestamp": "yesterday"},
        "TypeConstraintViolation",
    ),
    (
        # Schema-valid, but connector 0 is the whole charge point: a domain rule refuses.
        "StartTransaction",
        {
            "connectorId": 0,
            "idTag": "DRIVER-B",
            "meterStart": 0,
            "timestamp": "2026-12-08T10:00:00Z",
        },
        "PropertyConstraintViolation",
    ),
]


async def test_broken_frames_are_answered_with_a_call_error(
    cp: ChargePoint16, api: httpx.AsyncClient
) -> None:
    for text, unique_id, code in BROKEN_FRAMES:
        assert call_error(await cp.send_raw(text)) == (unique_id, code), text
        await still_fine(cp, api)


async def test_schema_breaking_calls_are_refused_and_change_nothing(
    cp: ChargePoint16, api: httpx.AsyncClient
) -> None:
    before = await get_json(api, "/api/transactions", station_id=CP)
    for action, payload, code in REFUSED_CALLS:
        with pytest.raises(OCPPError) as refused:
            await cp.call_raw(action, payload)
        assert refused.value.code == code, (action, payload)
        await still_fine(cp, api)
    assert await get_json(api, "/api/transactions", station_id=CP) == before


async def test_charger_timestamps_are_read_leniently_and_shown_in_utc(
    cp: ChargePoint16, api: httpx.AsyncClient
) -> None:
    answer = await cp.call_raw(
        "StartTransaction",
        {
            "connectorId": 2,
            "idTag": "DRIVER-B",
            "meterStart": 0,
            "timestamp": "2026-01-02T03:04:05",
        },
    )
    stored = await transaction(api, answer["transactionId"])
    assert stored["started_at"] == "2026-01-02T03:04:05.000Z"
    # An offset and nanoseconds: stored as the same instant, shown in UTC milliseconds.
    await cp.call_raw(
        "StatusNotification",
        {
            "connectorId": 2,
            "errorCode": "NoError",
            "status": "Charging",
            "timestamp": "2026-01-02T05:04:05.987654321+02:00",
        },
    )
    found = await get_json(api, f"/api/stations/{CP}")
    [connector] = [c for c in found["connectors"] if c["evse_id"] == 2]
    assert connector["status_at"] == "2026-01-02T03:04:05.987Z"


async def test_answer_to_no_outstanding_call_is_ignored(
    cp: ChargePoint16, api: httpx.AsyncClient
) -> None:
    # Nothing is answered to an answer (there is no reply to a CALLRESULT or CALLERROR).
    for text in ('[3, "nobody-asked", {}]', '[4, "nobody-asked-either", "GenericError", "", {}]'):
        with pytest.raises(TimeoutError):
            await cp.send_raw(text, timeout=0.2)
    await still_fine(cp, api)


async def test_oversized_frame_closes_with_1009(cp: ChargePoint16, api: httpx.AsyncClient) -> None:
    huge = json.dumps([2, "big-1", "DataTransfer", {"vendorId": "x", "data": "A" * 70_000}])
    with pytest.raises(ConnectionClosed):
        await cp.send_raw(huge)
    assert await cp.wait_closed() == 1009
    transaction_id = cp.connector(1).transaction_id
    assert transaction_id is not None
    assert (await transaction(api, transaction_id))["status"] == "active"
