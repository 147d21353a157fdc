"""Crash safety: ``cpo-backend serve`` killed with SIGKILL at random moments while
chargers charge and an eMSP receives. Nothing acknowledged may be lost or stored twice,
and every session must reach the eMSP with its one CDR.

The chargers behave as OCPP asks of them: a transaction message that was not answered
is sent again, unchanged, once the charger has reconnected; so a message the back-end
committed but could not answer before it died arrives twice, and must count once.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import socket
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from websockets.exceptions import InvalidHandshake, WebSocketException

from simulators.base import Simulator
from simulators.ocpi_hub import HubSimulator
from simulators.ocpp16 import connect as connect16
from simulators.ocpp201 import connect as connect201
from tests.conftest import eventually
from tests.e2e.billing_support import DRIVER, TARIFF, expected_cost
from tests.e2e.helpers import iso
from tests.e2e.ocpi_support import location_body

REGISTER = "Energy.Active.Import.Register"
STATIONS_16 = ("CRASH16_1", "CRASH16_2")
STATIONS_201 = ("CRASH201_1", "CRASH201_2")
SESSIONS_PER_STATION = 8
METER_VALUES_PER_SESSION = 6
KILLS = 3
PACE = 0.05


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Serve:
    """``cpo-backend serve`` as a child process, on ports that survive its restarts."""

    database_url: str
    log: Path
    ocpp_port: int = field(default_factory=_free_port)
    http_port: int = field(default_factory=_free_port)
    process: asyncio.subprocess.Process | None = None

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def ocpp_url(self) -> str:
        return f"ws://127.0.0.1:{self.ocpp_port}/ocpp"

    async def start(self) -> None:
        env = os.environ | {
            "CPO_DATABASE__URL": self.database_url,
            "CPO_OCPP__HOST": "127.0.0.1",
            "CPO_OCPP__PORT": str(self.ocpp_port),
            "CPO_HTTP__HOST": "127.0.0.1",
            "CPO_HTTP__PORT": str(self.http_port),
            "CPO_OCPI__OUTBOX_BASE_BACKOFF": "0.05",
            "CPO_OCPI__OUTBOX_MAX_BACKOFF": "0.2",
            "CPO_OCPI__OUTBOX_POLL_INTERVAL": "0.1",
            "CPO_LOGGING__LEVEL": "WARNING",
        }
        executable = Path(sys.executable).with_name("cpo-backend")
        with self.log.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                str(executable), "serve", env=env, stdout=log, stderr=log
            )
        async with httpx.AsyncClient(base_url=self.api_url) as client:

            async def up() -> bool:
                try:
                    return (await client.get("/api/stations")).status_code == 200
                except httpx.TransportError:
                    return False

            await eventually(up, timeout=30)

    async def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        await self.process.wait()

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            await self.process.wait()


_LINK_DOWN = (OSError, TimeoutError, WebSocketException, InvalidHandshake)


async def delivered(station: Simulator, action: str, payload: Mapping[str, Any]) -> dict[str, Any]:
    """Send ``payload`` until the back-end answers it, reconnecting in between, as a
    charger delivers its transaction messages: unchanged, however often."""
    while True:
        try:
            if not station.connected:
                await station.reconnect()
            answer = await station.call_raw(action, payload)
        except _LINK_DOWN:
            await asyncio.sleep(0.1)
            continue
        # Real chargers send seconds apart; this pace keeps the run short while the
        # kills still land in the middle of sessions.
        await asyncio.sleep(PACE)
        return answer


@dataclass
class Ledger:
    """What the chargers had acknowledged: per (station, charger transaction id), the
    energy delivered and the identities of the samples sent."""

    kwh: dict[tuple[str, str], Decimal] = field(default_factory=dict)
    samples: dict[tuple[str, str], set[tuple[str, str]]] = field(default_factory=dict)


def _sample(wh: int, at: datetime, context: str, camel: bool) -> dict[str, Any]:
    value: dict[str, Any] = {"value": str(wh), "measurand": REGISTER, "context": context}
    if camel:
        return {
            "timestamp": iso(at),
            "sampledValue": [value | {"value": wh, "unitOfMeasure": {"unit": "Wh"}}],
        }
    return {"timestamp": iso(at), "sampledValue": [value | {"unit": "Wh"}]}


async def charge_16(station: Simulator, ledger: Ledger, clock: datetime) -> None:
    meter = 1000
    for number in range(SESSIONS_PER_STATION):
        begin = meter
        started_at = clock + timedelta(hours=number)
        start = {
            "connectorId": 1,
            "idTag": DRIVER,
            "meterStart": begin,
            "timestamp": iso(started_at),
        }
        answer = await delivered(station, "StartTransaction", start)
        transaction_id = answer["transactionId"]
        key = (station.id, str(transaction_id))
        ledger.samples[key] = set()
        for index in range(1, METER_VALUES_PER_SESSION + 1):
            meter += 500
            at = started_at + timedelta(minutes=index)
            sample = _sample(meter, at, "Sample.Periodic", camel=False)
            payload = {"connectorId": 1, "transactionId": transaction_id, "meterValue": [sample]}
            await delivered(station, "MeterValues", payload)
            ledger.samples[key].add((iso(at), "Sample.Periodic"))
        stop = {
            "transactionId": transaction_id,
            "meterStop": meter,
            "timestamp": iso(started_at + timedelta(minutes=METER_VALUES_PER_SESSION + 1)),
            "reason": "Local",
        }
        await delivered(station, "StopTransaction", stop)
        ledger.kwh[key] = Decimal(meter - begin) / 1000


def _event(
    transaction_id: str, seq_no: int, event_type: str, trigger: str, at: datetime, **fields: Any
) -> dict[str, Any]:
    return {
        "eventType": event_type,
        "timestamp": iso(at),
        "triggerReason": trigger,
        "seqNo": seq_no,
        "transactionInfo": {"transactionId": transaction_id},
        **fields,
    }


async def charge_201(station: Simulator, ledger: Ledger, clock: datetime) -> None:
    meter = 1000
    for number in range(SESSIONS_PER_STATION):
        transaction_id = f"{station.id}-T{number}"
        key = (station.id, transaction_id)
        ledger.samples[key] = set()
        begin = meter
        started_at = clock + timedelta(hours=number)

        events = [
            _event(
                transaction_id,
                0,
                "Started",
                "Authorized",
                started_at,
                evse={"id": 1, "connectorId": 1},
                idToken={"idToken": DRIVER, "type": "ISO14443"},
                meterValue=[_sample(begin, started_at, "Transaction.Begin", camel=True)],
            )
        ]
        ledger.samples[key].add((iso(started_at), "Transaction.Begin"))
        for index in range(1, METER_VALUES_PER_SESSION + 1):
            meter += 500
            at = started_at + timedelta(minutes=index)
            sample = _sample(meter, at, "Sample.Periodic", camel=True)
            events.append(
                _event(
                    transaction_id, index, "Updated", "MeterValuePeriodic", at, meterValue=[sample]
                )
            )
            ledger.samples[key].add((iso(at), "Sample.Periodic"))
        ended_at = started_at + timedelta(minutes=METER_VALUES_PER_SESSION + 1)
        end = _sample(meter, ended_at, "Transaction.End", camel=True)
        events.append(
            _event(
                transaction_id, len(events), "Ended", "StopAuthorized", ended_at, meterValue=[end]
            )
        )
        ledger.samples[key].add((iso(ended_at), "Transaction.End"))
        for payload in events:
            await delivered(station, "TransactionEvent", payload)
        ledger.kwh[key] = Decimal(meter - begin) / 1000


async def test_kill_9_loses_nothing_and_bills_every_session_once(
    database_url: str, tmp_path: Path
) -> None:
    serve = Serve(database_url, tmp_path / "serve.log")
    await serve.start()
    ledger = Ledger()
    clock = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
    try:
        async with (
            HubSimulator() as hub,
            httpx.AsyncClient(base_url=serve.api_url, timeout=10) as api,
        ):
            issued = (await api.post("/api/ocpi/partners/token-a")).json()
            await hub.register_with(issued["versions_url"], issued["token_a"])
            assert (await api.put("/api/tariffs/AC1", json=TARIFF)).is_success
            stations = (*STATIONS_16, *STATIONS_201)
            evses = [(str(n), station, 1) for n, station in enumerate(stations, 1)]
            assert (await api.put("/api/locations/LOC1", json=location_body(*evses))).is_success
            assert (await hub.push_token(hub.token(DRIVER, whitelist="ALWAYS"))).is_success
            async with contextlib.AsyncExitStack() as chargers_running:
                chargers_16 = [
                    await chargers_running.enter_async_context(
                        connect16(serve.ocpp_url, station, connectors=1, response_timeout=2)
                    )
                    for station in STATIONS_16
                ]
                chargers_201 = [
                    await chargers_running.enter_async_context(
                        connect201(serve.ocpp_url, station, response_timeout=2)
                    )
                    for station in STATIONS_201
                ]
                for charger_16 in chargers_16:
                    await charger_16.start_up()
                for charger_201 in chargers_201:
                    await charger_201.start_up()
                charging = asyncio.gather(
                    *(charge_16(c, ledger, clock) for c in chargers_16),
                    *(charge_201(c, ledger, clock) for c in chargers_201),
                )
                chaos = random.Random()
                for _ in range(KILLS):
                    await asyncio.sleep(chaos.uniform(0.2, 1.0))
                    assert not charging.done(), "the kill must land while chargers charge"
                    await serve.kill()
                    await serve.start()
                await charging
            await _billed_once(api, hub, ledger)
            await _stored_once(api, ledger)
    finally:
        await serve.stop()


async def _billed_once(api: httpx.AsyncClient, hub: HubSimulator, ledger: Ledger) -> None:
    """One Session per transaction at the eMSP, and one CDR each (by id: an eMSP keys
    CDRs by their id, so a POST repeated after a crash is the same CDR) with its energy."""
    total = sum(ledger.kwh.values(), Decimal(0))

    def cdrs() -> dict[str, Mapping[str, Any]]:
        return {cdr["id"]: cdr for cdr in hub.state.cdrs}

    def billed() -> bool:
        energy = sum((Decimal(str(c["total_energy"])) for c in cdrs().values()), Decimal(0))
        return len(cdrs()) == len(ledger.kwh) and energy == total

    await eventually(billed, timeout=30)
    assert len(hub.state.sessions) == len(ledger.kwh)
    found = {(t["station_id"], t["charger_transaction_id"]): t for t in await _transactions(api)}
    for key, kwh in ledger.kwh.items():
        [cdr] = [c for c in cdrs().values() if c["session_id"] == str(found[key]["id"])]
        assert Decimal(str(cdr["total_energy"])) == kwh
        assert Decimal(str(cdr["total_cost"]["excl_vat"])) == expected_cost(kwh)


async def _transactions(api: httpx.AsyncClient) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = (
        await api.get("/api/transactions", params={"limit": 1000})
    ).json()
    return found


async def _stored_once(api: httpx.AsyncClient, ledger: Ledger) -> None:
    """Every transaction once, completed with its real stop; every sample once."""
    found = await _transactions(api)
    keys = [(t["station_id"], t["charger_transaction_id"]) for t in found]
    assert sorted(keys) == sorted(ledger.kwh)
    for stored in found:
        key = (stored["station_id"], stored["charger_transaction_id"])
        assert stored["status"] == "completed", stored
        assert stored["closed_by"] is None, stored
        details = (await api.get(f"/api/transactions/{stored['id']}")).json()
        samples = [(v["sampled_at"], v["context"]) for v in details["meter_values"]]
        assert len(samples) == len(set(samples)), f"a sample stored twice in {key}"
        assert set(samples) == ledger.samples[key]
