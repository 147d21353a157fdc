"""The billing matrix: every charging flow, every kind of charger and every route to
the eMSP, on both databases, asserted where the money is.

A flow drives a charger through real OCPP and says how many kWh the charger metered for
the driver's transaction. The test then waits for the eMSP (the hub simulator) to hold
that: exactly one Session object for the transaction, COMPLETED with that energy, and
CDRs whose net energy and cost (Credit CDRs subtracted) are the meter delta priced by the
tariff, with nothing left in the outbox.

Chargers: 1.6, 2.0.1, and 2.0.1 with the habits of third-party firmware (the Ended
repeats the Transaction.Begin sample, every event is numbered seqNo 0, a remote start
names only its remoteStartId). Routes: the eMSP registered with us, or behind a hub.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

import pytest

from simulators.ocpp16 import ChargePoint16
from simulators.ocpp16 import connect as connect16
from simulators.ocpp201 import ChargingStation201
from simulators.ocpp201 import connect as connect201
from tests.conftest import eventually
from tests.e2e.billing_support import (
    DRIVER,
    STATION,
    BillingNetwork,
    Route,
    billing_network,
    expected_cost,
    net_billed,
)
from tests.e2e.helpers import command, iso, transaction, transactions

REGISTER = "Energy.Active.Import.Register"


class Charger(Protocol):
    """What a flow asks of a charger, whatever its protocol."""

    station: ChargePoint16 | ChargingStation201
    remote_start_action: str

    async def start(
        self, token: str | None, wh: int, *, remote_start_id: int | None = None
    ) -> None:
        """Start a transaction on EVSE 1 (it becomes the current one)."""

    async def plug_then_tap(self, token: str, wh: int) -> None:
        """Start on the cable, the token known only afterwards."""

    async def meter(self, wh: int) -> None:
        """Report the register of the current transaction, sampled now."""

    async def stop(self, wh: int, *, transaction: int = -1) -> None:
        """Stop a transaction of this test (default the current one) at ``wh``."""

    async def offline_session(self, token: str, begin: int, end: int) -> None:
        """A whole transaction that happened offline, delivered late."""

    async def reboot(self) -> None:
        """Reboot: the running transaction is lost until the charger's queued stop."""

    async def resend_last(self) -> None:
        """Send the last message again, unchanged (its answer was lost, say)."""


@dataclass
class Charger16:
    station: ChargePoint16
    remote_start_action: str = "RemoteStartTransaction"
    transactions: list[int] = field(default_factory=list)

    async def start(
        self, token: str | None, wh: int, *, remote_start_id: int | None = None
    ) -> None:
        assert token is not None, "a 1.6 start always names its token"
        started = await self.station.start_transaction(1, token, meter_start=wh)
        self.transactions.append(started.transaction_id)

    async def plug_then_tap(self, token: str, wh: int) -> None:
        await self.station.status(1, "Preparing")
        assert (await self.station.authorize(token)).id_tag_info["status"] == "Accepted"
        await self.start(token, wh)

    async def meter(self, wh: int) -> None:
        sample = _sample16(wh, datetime.now(UTC))
        await self.station.meter_values(1, [sample], transaction_id=self.transactions[-1])

    async def stop(self, wh: int, *, transaction: int = -1) -> None:
        await self.station.stop_transaction(self.transactions[transaction], meter_stop=wh)

    async def reboot(self) -> None:
        await self.station.boot()

    async def resend_last(self) -> None:
        await self.station.request(self.station.sent[-1].request)

    async def offline_session(self, token: str, begin: int, end: int) -> None:
        # The charger queued the whole session while the link was down and now sends
        # it with the times it happened.
        began = datetime.now(UTC) - timedelta(minutes=30)
        started = await self.station.start_transaction(
            1, token, meter_start=begin, timestamp=iso(began)
        )
        self.transactions.append(started.transaction_id)
        middle = _sample16((begin + end) // 2, began + timedelta(minutes=10))
        await self.station.meter_values(1, [middle], transaction_id=started.transaction_id)
        await self.station.stop_transaction(
            started.transaction_id, meter_stop=end, timestamp=iso(began + timedelta(minutes=20))
        )


@dataclass
class Charger201:
    station: ChargingStation201
    # Third-party habits: the Ended repeats the Begin sample, every seqNo is 0, and a
    # remote start carries no idToken.
    quirks: bool = False
    remote_start_action: str = "RequestStartTransaction"
    transactions: list[str] = field(default_factory=list)
    _seq: dict[str, int] = field(default_factory=dict)
    _begin: dict[str, dict[str, Any]] = field(default_factory=dict)
    _last: datetime = field(default_factory=lambda: datetime.now(UTC))

    def _now(self) -> datetime:
        """Now, but always after the previous event: two events never share an instant."""
        self._last = max(datetime.now(UTC), self._last + timedelta(milliseconds=1))
        return self._last

    async def _event(
        self,
        transaction_id: str,
        event_type: str,
        trigger: str,
        *,
        at: datetime | None = None,
        seq_no: int | None = None,
        info: dict[str, Any] | None = None,
        **fields: Any,
    ) -> None:
        if seq_no is None:
            seq_no = self._seq.get(transaction_id, 0)
            self._seq[transaction_id] = seq_no + 1
        payload = {
            "eventType": event_type,
            "timestamp": iso(at or self._now()),
            "triggerReason": trigger,
            "seqNo": 0 if self.quirks else seq_no,
            "transactionInfo": {"transactionId": transaction_id} | (info or {}),
            **fields,
        }
        await self.station.call_raw("TransactionEvent", payload)

    def _new_transaction(self, wh: int, at: datetime) -> str:
        transaction_id = f"TX-{uuid.uuid4().hex[:12]}"
        self.transactions.append(transaction_id)
        self._begin[transaction_id] = _register201(wh, "Transaction.Begin", at)
        return transaction_id

    async def start(
        self, token: str | None, wh: int, *, remote_start_id: int | None = None
    ) -> None:
        at = self._now()
        transaction_id = self._new_transaction(wh, at)
        info: dict[str, Any] = {"chargingState": "Charging"}
        fields: dict[str, Any] = {
            "evse": {"id": 1, "connectorId": 1},
            "meterValue": [self._begin[transaction_id]],
        }
        if remote_start_id is not None:
            info["remoteStartId"] = remote_start_id
        if token is not None and not (self.quirks and remote_start_id is not None):
            fields["idToken"] = _id_token(token)
        trigger = "RemoteStart" if remote_start_id is not None else "Authorized"
        await self._event(transaction_id, "Started", trigger, at=at, info=info, **fields)
        # The simulated EVSE runs it: asked after a boot, it says the transaction is ongoing.
        self.station.evse(1).transaction_id = transaction_id

    async def plug_then_tap(self, token: str, wh: int) -> None:
        at = self._now()
        transaction_id = self._new_transaction(wh, at)
        await self._event(
            transaction_id,
            "Started",
            "CablePluggedIn",
            at=at,
            info={"chargingState": "EVConnected"},
            evse={"id": 1, "connectorId": 1},
            meterValue=[self._begin[transaction_id]],
        )
        await self._event(
            transaction_id,
            "Updated",
            "Authorized",
            info={"chargingState": "Charging"},
            idToken=_id_token(token),
        )

    async def meter(self, wh: int) -> None:
        at = self._now()
        await self._event(
            self.transactions[-1],
            "Updated",
            "MeterValuePeriodic",
            at=at,
            meterValue=[_register201(wh, "Sample.Periodic", at)],
        )

    async def stop(self, wh: int, *, transaction: int = -1) -> None:
        transaction_id = self.transactions[transaction]
        if self.station.evse(1).transaction_id == transaction_id:
            self.station.evse(1).transaction_id = None
        await self._end(transaction_id, wh, self._now())

    async def _end(self, transaction_id: str, wh: int, at: datetime, **fields: Any) -> None:
        """The driver's stop at ``wh``; the quirky Ended repeats the Begin sample first."""
        samples = [_register201(wh, "Transaction.End", at)]
        if self.quirks:
            samples.insert(0, self._begin[transaction_id])
        await self._event(
            transaction_id,
            "Ended",
            "StopAuthorized",
            at=at,
            info={"chargingState": "Idle", "stoppedReason": "Local"},
            **fields,
            meterValue=samples,
        )

    async def resend_last(self) -> None:
        last = self.station.sent[-1]
        await self.station.call_raw(last.action, last.request)

    async def reboot(self) -> None:
        # Rebooted, the EVSE runs nothing: asked, it says so.
        self.station.evse(1).transaction_id = None
        await self.station.boot()

    async def offline_session(self, token: str, begin: int, end: int) -> None:
        # Queued offline, delivered out of order: the Ended first, one Updated lost.
        began = datetime.now(UTC) - timedelta(minutes=30)
        transaction_id = self._new_transaction(begin, began)
        await self._end(transaction_id, end, began + timedelta(minutes=20), seq_no=3, offline=True)
        await self._event(
            transaction_id,
            "Started",
            "Authorized",
            at=began,
            seq_no=0,
            offline=True,
            info={"chargingState": "Charging"},
            evse={"id": 1, "connectorId": 1},
            idToken=_id_token(token),
            meterValue=[self._begin[transaction_id]],
        )
        middle = began + timedelta(minutes=10)
        await self._event(
            transaction_id,
            "Updated",
            "MeterValuePeriodic",
            at=middle,
            seq_no=1,
            offline=True,
            meterValue=[_register201((begin + end) // 2, "Sample.Periodic", middle)],
        )


def _sample16(wh: int, at: datetime) -> dict[str, Any]:
    return {
        "timestamp": iso(at),
        "sampled_value": [{"value": str(wh), "measurand": REGISTER, "unit": "Wh"}],
    }


def _register201(wh: int, context: str, at: datetime) -> dict[str, Any]:
    return {
        "timestamp": iso(at),
        "sampledValue": [
            {
                "value": wh,
                "context": context,
                "measurand": REGISTER,
                "unitOfMeasure": {"unit": "Wh"},
            }
        ],
    }


def _id_token(token: str) -> dict[str, str]:
    return {"idToken": token, "type": "ISO14443"}


# -- flows: each returns the kWh the charger metered for the driver ----------------------

Flow = Callable[[BillingNetwork, Charger], Awaitable[Decimal]]


async def _closed_as(net: BillingNetwork, closed_by: str) -> None:
    """Wait until the back-end has closed the driver's transaction ``closed_by``."""

    async def closed() -> bool:
        found = await transactions(net.api, station_id=STATION)
        return any(t["closed_by"] == closed_by for t in found if t["id_token"] == DRIVER)

    await eventually(closed)


async def token_first(net: BillingNetwork, charger: Charger) -> Decimal:
    await charger.start(DRIVER, 1000)
    await charger.meter(5000)
    await charger.stop(11000)
    return Decimal(10)


async def resent_messages(net: BillingNetwork, charger: Charger) -> Decimal:
    """Every message arrives twice, as when the charger's answers get lost."""
    await charger.start(DRIVER, 1000)
    await charger.resend_last()
    for wh in (5000, 8000):
        await charger.meter(wh)
        await charger.resend_last()
    await charger.stop(11000)
    await charger.resend_last()
    return Decimal(10)


async def cable_first(net: BillingNetwork, charger: Charger) -> Decimal:
    await charger.plug_then_tap(DRIVER, 1000)
    await charger.meter(5000)
    await charger.stop(11000)
    return Decimal(10)


async def _charges_when_started_remotely(charger: Charger) -> Decimal:
    """The charger's part of a remote start it accepts: it starts as it was asked to."""
    request = await charger.station.wait_for(charger.remote_start_action)
    await charger.start(DRIVER, 1000, remote_start_id=request.get("remoteStartId"))
    await charger.meter(4000)
    await charger.stop(11000)
    return Decimal(10)


async def operator_remote_start(net: BillingNetwork, charger: Charger) -> Decimal:
    charger.station.override(charger.remote_start_action, {"status": "Accepted"})
    answer = await command(net.api, STATION, "remote-start", {"id_token": DRIVER, "evse_id": 1})
    assert answer.status_code == 200, answer.text
    return await _charges_when_started_remotely(charger)


async def start_session(net: BillingNetwork, charger: Charger) -> Decimal:
    charger.station.override(charger.remote_start_action, {"status": "Accepted"})
    _, response = await net.hub.command(
        "START_SESSION", token=net.token, location_id="LOC1", evse_uid="1"
    )
    assert response["data"]["result"] == "ACCEPTED", response
    return await _charges_when_started_remotely(charger)


async def offline_replayed(net: BillingNetwork, charger: Charger) -> Decimal:
    await charger.offline_session(DRIVER, 2000, 14000)
    return Decimal(12)


async def reboot_then_real_stop(net: BillingNetwork, charger: Charger) -> Decimal:
    await charger.start(DRIVER, 1000)
    await charger.meter(2000)
    await charger.reboot()
    await _closed_as(net, "reconciled")
    await charger.stop(21000)
    return Decimal(20)


async def stop_never_comes(net: BillingNetwork, charger: Charger) -> Decimal:
    await charger.start(DRIVER, 1000)
    await charger.meter(4000)
    await charger.reboot()
    await _closed_as(net, "reconciled")
    return Decimal(3)


async def force_close_then_real_stop(net: BillingNetwork, charger: Charger) -> Decimal:
    await charger.start(DRIVER, 1000)
    await charger.meter(2000)
    [active] = await transactions(net.api, station_id=STATION, status="active")
    closed = await net.api.post(f"/api/transactions/{active['id']}/force-close", json={})
    assert closed.is_success, closed.text
    await charger.stop(21000)
    return Decimal(20)


async def supersede_then_real_stop(net: BillingNetwork, charger: Charger) -> Decimal:
    await charger.start(DRIVER, 1000)
    await charger.meter(2000)
    # The charger starts another transaction on the connector before the first's stop.
    await charger.start("LOCAL1", 21000)
    await _closed_as(net, "superseded")
    await charger.stop(21000, transaction=0)
    await charger.stop(22000)
    return Decimal(20)


async def _charges_on_through_a_boot(
    charger: Charger, boot: Callable[[], Awaitable[object]]
) -> Decimal:
    """A BootNotification in the middle of a transaction that did not end it: ``boot``
    makes the charger send one, after which it charges on."""
    await charger.start(DRIVER, 1000)
    await charger.meter(3000)
    charger.station.catch_up()
    await boot()
    await charger.station.wait_sent("BootNotification")
    await charger.meter(6000)
    await charger.stop(11000)
    return Decimal(10)


async def triggered_boot(net: BillingNetwork, charger: Charger) -> Decimal:
    async def trigger() -> None:
        message = {"message": "BootNotification"}
        answer = await command(net.api, STATION, "trigger-message", message)
        assert answer.status_code == 200, answer.text

    return await _charges_on_through_a_boot(charger, trigger)


async def reconnect_boot(net: BillingNetwork, charger: Charger) -> Decimal:
    """The charger announces every reconnect with a BootNotification and charges on."""
    return await _charges_on_through_a_boot(charger, charger.station.reconnect)


def metered_by_charger(station: ChargePoint16 | ChargingStation201) -> Decimal:
    """The kWh of the station's last transaction by its own meter, read off what it sent
    (1.6 meterStart and meterStop; 2.0.1 the Begin and End registers)."""
    if isinstance(station, ChargePoint16):
        begin = [e.request.meter_start for e in station.sent if e.action == "StartTransaction"]
        end = [e.request.meter_stop for e in station.sent if e.action == "StopTransaction"]
        return Decimal(end[-1] - begin[-1]) / 1000
    registers: dict[str, Decimal] = {}
    for entry in station.sent:
        if entry.action != "TransactionEvent":
            continue
        for meter_value in entry.request.meter_value or []:
            for sampled in meter_value["sampled_value"]:
                context = sampled.get("context")
                if sampled.get("measurand", REGISTER) == REGISTER and not sampled.get("phase"):
                    registers[context] = Decimal(str(sampled["value"]))
    return (registers["Transaction.End"] - registers["Transaction.Begin"]) / 1000


async def simulator_session(net: BillingNetwork, charger: Charger) -> Decimal:
    """The simulator's own charging flow (with its third-party habits switched on)."""
    session = await charger.station.plug_in_and_charge(1, DRIVER, duration=1.0)
    assert session.accepted
    return metered_by_charger(charger.station)


async def simulator_remote_start(net: BillingNetwork, charger: Charger) -> Decimal:
    """An operator remote start the simulator carries out itself (with its habits: the
    quirky 2.0.1 one names only the remoteStartId), stopped remotely."""
    answer = await command(net.api, STATION, "remote-start", {"id_token": DRIVER, "evse_id": 1})
    assert answer.status_code == 200, answer.text

    async def running() -> list[dict[str, Any]]:
        return await transactions(net.api, station_id=STATION, status="active")

    await eventually(running)
    [active] = await running()
    await asyncio.sleep(1.0)  # let it charge a while
    stopped = await net.api.post(f"/api/transactions/{active['id']}/remote-stop")
    assert stopped.is_success, stopped.text
    await charger.station.wait_idle()
    return metered_by_charger(charger.station)


FLOWS: dict[str, Flow] = {
    flow.__name__: flow
    for flow in (
        token_first,
        resent_messages,
        cable_first,
        operator_remote_start,
        start_session,
        offline_replayed,
        reboot_then_real_stop,
        stop_never_comes,
        force_close_then_real_stop,
        supersede_then_real_stop,
        triggered_boot,
        reconnect_boot,
        simulator_session,
        simulator_remote_start,
    )
}


@pytest.fixture(params=["direct", "hub"])
async def network(
    request: pytest.FixtureRequest, database_url: str
) -> AsyncIterator[BillingNetwork]:
    route: Route = request.param
    async with billing_network(database_url, grace=0.0, route=route) as net:
        yield net


@pytest.mark.parametrize("kind", ["1.6", "2.0.1", "2.0.1-quirks"])
@pytest.mark.parametrize("flow", list(FLOWS))
async def test_the_emsp_is_billed_what_the_charger_metered(
    network: BillingNetwork, kind: str, flow: str
) -> None:
    net = network
    if kind == "1.6":
        async with connect16(net.ocpp_url, STATION, connectors=1, boot_on_reconnect=True) as cp:
            await cp.start_up()
            kwh = await FLOWS[flow](net, Charger16(cp))
            await _billed(net, kwh)
    else:
        quirks = kind.endswith("quirks")
        async with connect201(
            net.ocpp_url,
            STATION,
            boot_on_reconnect=True,
            begin_and_end_in_ended=quirks,
            reuse_seq_no=quirks,
            remote_start_without_id_token=quirks,
        ) as cs:
            await cs.start_up()
            kwh = await FLOWS[flow](net, Charger201(cs, quirks=quirks))
            await _billed(net, kwh)


async def _billed(net: BillingNetwork, kwh: Decimal) -> None:
    """The eMSP holds exactly what ``kwh`` costs, and nothing more is on its way."""
    hub = net.hub

    async def settled() -> bool:
        pending = await net.api.get("/api/ocpi/outbox", params={"state": "pending"})
        return (
            net_billed(hub.state)[0] == kwh
            and all(s["status"] == "COMPLETED" for s in hub.state.sessions.values())
            and pending.json() == []
        )

    try:
        await eventually(settled)
    except AssertionError as timeout:
        outbox = (await net.api.get("/api/ocpi/outbox")).json()
        held = {"sessions": hub.state.sessions, "cdrs": hub.state.cdrs, "outbox": outbox}
        raise AssertionError(f"the eMSP was not billed {kwh} kWh: {held}") from timeout
    assert len(hub.state.sessions) == 1, hub.state.sessions
    [session] = hub.state.sessions.values()
    assert session["kwh"] == float(kwh)
    assert session["cdr_token"]["uid"] == DRIVER
    assert net_billed(hub.state) == (kwh, expected_cost(kwh))
    [driven] = [
        t for t in await transactions(net.api, station_id=STATION) if t["id_token"] == DRIVER
    ]
    details = await transaction(net.api, driven["id"])
    # Every sample the charger sent is stored once, however often it was sent.
    identities = [
        (v["sampled_at"], v["measurand"], v["phase"], v["location"], v["context"])
        for v in details["meter_values"]
    ]
    assert len(identities) == len(set(identities))
