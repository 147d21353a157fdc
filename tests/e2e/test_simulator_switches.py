"""The simulators' third-party behaviours put the messages those chargers send on the wire.

Each switch stands for a real charger (see the simulator classes' docstrings) that the
billing tests drive the back-end with, so what is checked here is what the simulator
sent, against a real back-end; what the back-end makes of it is the billing tests' job.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from simulators import ocpp16, ocpp201
from simulators.common import Sent
from tests.conftest import eventually
from tests.e2e.helpers import command, create_token

FAST_201 = {("SampledDataCtrlr", "TxUpdatedInterval"): "1"}


def _events(sent: list[Sent]) -> list[Any]:
    """The TransactionEvent requests among ``sent``, oldest first."""
    return [entry.request for entry in sent if entry.action == "TransactionEvent"]


def _triggers(sent: list[Sent]) -> list[str]:
    return [event.trigger_reason for event in _events(sent)]


def _contexts(meter_values: list[dict[str, Any]]) -> list[set[str]]:
    return [{value["context"] for value in mv["sampled_value"]} for mv in meter_values]


async def test_begin_and_end_in_ended_repeats_the_begin_sample(
    ocpp_url: str, api: httpx.AsyncClient
) -> None:
    await create_token(api, "SAP-SIM")
    async with ocpp201.connect(ocpp_url, "CS_BEGIN_END", begin_and_end_in_ended=True) as cs:
        await cs.start_up()
        await cs.plug_in_and_charge(1, "SAP-SIM", duration=1.5)
    events = _events(cs.sent)
    started, ended = events[0], events[-1]
    assert (started.event_type, ended.event_type) == ("Started", "Ended")
    [begin] = started.meter_value
    assert _contexts(ended.meter_value) == [{"Transaction.Begin"}, {"Transaction.End"}]
    assert ended.meter_value[0] == begin  # same timestamp, same value
    [begin_wh] = begin["sampled_value"]
    [end_wh] = ended.meter_value[1]["sampled_value"]
    assert end_wh["value"] > begin_wh["value"]


async def test_reuse_seq_no_sends_every_event_with_seq_no_zero(
    ocpp_url: str, api: httpx.AsyncClient
) -> None:
    await create_token(api, "VCP")
    async with ocpp201.connect(
        ocpp_url, "CS_SEQ_ZERO", reuse_seq_no=True, variables=FAST_201
    ) as cs:
        await cs.start_up()
        session = await cs.plug_in_and_charge(1, "VCP", duration=1.5)
    events = _events(cs.sent)
    kinds = [event.event_type for event in events]
    assert kinds[0] == "Started"
    assert kinds[-1] == "Ended"
    assert kinds.count("Updated") >= 2
    assert [event.seq_no for event in events] == [0] * len(events)
    assert {event.transaction_info["transaction_id"] for event in events} == {
        session.transaction_id
    }


async def test_boot_on_reconnect_201_boots_first_and_keeps_the_transaction(
    ocpp_url: str, api: httpx.AsyncClient
) -> None:
    await create_token(api, "RECONNECT-201")
    async with ocpp201.connect(
        ocpp_url, "CS_REBOOTS", boot_on_reconnect=True, variables=FAST_201
    ) as cs:
        await cs.start_up()
        charging = asyncio.create_task(cs.plug_in_and_charge(1, "RECONNECT-201"))
        # Answered: nothing is in flight when the socket drops, the next event is queued.
        await eventually(lambda: "ChargingStateChanged" in _triggers(cs.sent))
        transaction_id = cs.evse(1).transaction_id
        await cs.disconnect()
        await eventually(lambda: cs.offline_queue, timeout=3)
        mark = len(cs.sent)
        await cs.reconnect()
        after = cs.sent[mark:]
        assert after[0].action == "BootNotification"
        assert after[0].request.reason == "PowerUp"
        replayed = after[1]
        assert replayed.action == "TransactionEvent"
        assert replayed.request.offline
        assert replayed.request.transaction_info["transaction_id"] == transaction_id
        statuses = [e.request for e in after if e.action == "StatusNotification"]
        assert [(s.evse_id, s.connector_status) for s in statuses] == [
            (1, "Occupied"),
            (2, "Available"),
        ]
        # The flow goes on with the same transaction, online again.
        await eventually(lambda: any(not e.offline for e in _events(cs.sent[mark:])), 3)
        cs.request_stop(1)
        session = await charging
    assert session.transaction_id == transaction_id
    events = _events(cs.sent)
    assert [e.event_type for e in events].count("Started") == 1
    assert events[-1].event_type == "Ended"
    assert {e.transaction_info["transaction_id"] for e in events} == {transaction_id}


async def test_boot_on_reconnect_16_boots_first_and_keeps_the_transaction(
    ocpp_url: str, api: httpx.AsyncClient
) -> None:
    await create_token(api, "RECONNECT-16")
    async with ocpp16.connect(
        ocpp_url,
        "CP_REBOOTS",
        boot_on_reconnect=True,
        config={"MeterValueSampleInterval": "1"},
    ) as cp:
        await cp.boot()
        charging = asyncio.create_task(cp.plug_in_and_charge(1, "RECONNECT-16"))
        started = await cp.wait_sent("StartTransaction")
        transaction_id = started.response.transaction_id
        await cp.wait_sent("MeterValues")  # answered: the next one is a second away
        mark = len(cp.sent)
        await cp.reconnect()
        after = cp.sent[mark:]
        assert [e.action for e in after] == ["BootNotification"] + ["StatusNotification"] * 3
        assert [(e.request.connector_id, e.request.status) for e in after[1:]] == [
            (0, "Available"),
            (1, "Charging"),
            (2, "Available"),
        ]
        # A MeterValues of the test's own goes to the running transaction by default...
        await cp.meter_values(1)
        assert cp.sent[-1].request.transaction_id == transaction_id
        # ...and so do the periodic ones of the charging flow.
        cp.catch_up()
        periodic = await cp.wait_sent("MeterValues", timeout=3)
        assert periodic.request.transaction_id == transaction_id
        cp.request_stop(1)
        session = await charging
    assert session.transaction_id == transaction_id
    stopped = [e.request for e in cp.sent if e.action == "StopTransaction"]
    assert [s.transaction_id for s in stopped] == [transaction_id]
    assert [e.action for e in cp.sent].count("StartTransaction") == 1


async def test_remote_start_without_id_token_reports_only_the_remote_start_id(
    ocpp_url: str, api: httpx.AsyncClient
) -> None:
    await create_token(api, "REMOTE-ONLY")
    variables = {**FAST_201, ("AuthCtrlr", "AuthorizeRemoteStart"): "false"}
    async with ocpp201.connect(
        ocpp_url, "CS_NO_TOKEN", remote_start_without_id_token=True, variables=variables
    ) as cs:
        await cs.start_up()
        body = {"id_token": "REMOTE-ONLY", "evse_id": 1, "remote_start_id": 42}
        answer = await command(api, "CS_NO_TOKEN", "remote-start", body)
        assert answer.json()["status"] == "Accepted"
        started = (await cs.wait_sent("TransactionEvent")).request
        assert (started.event_type, started.trigger_reason) == ("Started", "RemoteStart")
        assert started.transaction_info["remote_start_id"] == 42
        await eventually(lambda: cs.evse(1).charging_state == "Charging")
        cs.request_stop(1)
        await eventually(lambda: not cs.evse(1).in_session)
    events = _events(cs.sent)
    assert events[-1].event_type == "Ended"
    assert [e.id_token for e in events] == [None] * len(events)
    assert "Authorize" not in [e.action for e in cs.sent]


async def test_sent_messages_can_be_resent_exactly_as_they_were(
    ocpp_url: str, api: httpx.AsyncClient
) -> None:
    """``request(entry.request)`` puts a journal entry's payload on the wire again.

    The payload is the very object first sent (seqNo, timestamps, offline flag and all);
    only the OCPP-J message id is new, as on a new connection after a crash.
    """
    await create_token(api, "RESEND")
    async with ocpp201.connect(ocpp_url, "CS_RESEND", variables=FAST_201) as cs:
        await cs.start_up()
        await cs.plug_in_and_charge(1, "RESEND", duration=1.2)
        last_two = [e for e in cs.sent if e.action == "TransactionEvent"][-2:]
        for entry in last_two:
            await cs.request(entry.request)
        resent = cs.sent[-2:]
        assert all(new.request is old.request for new, old in zip(resent, last_two, strict=True))
    async with ocpp16.connect(ocpp_url, "CP_RESEND") as cp:
        await cp.boot()
        started = await cp.start_transaction(1, "RESEND")
        await cp.meter_values(1)
        [sent] = [e for e in cp.sent if e.action == "MeterValues"]
        await cp.request(sent.request)
        assert cp.sent[-1].request is sent.request
        assert sent.request.transaction_id == started.transaction_id
