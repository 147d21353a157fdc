"""OCPP load: N chargers connect, boot, then send a steady mix as fast as answered.

Usage::

    .venv/bin/python benchmarks/ocpp_load.py                    # 1,000 chargers, 30 s
    .venv/bin/python benchmarks/ocpp_load.py --chargers 2000 --duration 60
    .venv/bin/python benchmarks/ocpp_load.py --url ws://host:9000/ocpp --server-pid 1234

Without ``--url`` it starts ``cpo-backend serve`` as a subprocess on free ports with a
fresh SQLite file (persistence on, message log on, log level WARNING) and measures that.
Each charger boots, starts one transaction, and then loops over Heartbeat,
StatusNotification and two meter readings (energy register, power, current and voltage on
three phases, SoC and offered current: 11 sampled values) with one call outstanding at a
time, as OCPP asks. ``--ocpp 2.0.1`` sends the readings in TransactionEvent Updated, the
2.0.1 way; ``--ocpp mixed`` makes every other charger a 2.0.1 one.

The load generator is a lean client (prebuilt frames, no schema validation) so that it
takes as little as possible of the CPU it shares with the server. It prints connections
held, calls per second, p50/p99 latency, errors and the server's RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

PHASES = ("L1-N", "L2-N", "L3-N")


@dataclass
class Tally:
    expected: int
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    connected: int = 0
    failures: list[str] = field(default_factory=list)
    settled: int = 0
    all_settled: asyncio.Event = field(default_factory=asyncio.Event)

    def settle(self) -> None:
        """One charger is booted with its transaction, or has failed trying."""
        self.settled += 1
        if self.settled == self.expected:
            self.all_settled.set()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def rss_mib(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def timestamp() -> str:
    now = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now * 1000) % 1000:03d}Z"


# (measurand, phase, unit, value, location) of the samples every meter reading carries,
# after the energy register: power, current and voltage on three phases, SoC, offered current.
_SAMPLES: list[tuple[str, str | None, str, str, str | None]] = [
    ("Power.Active.Import", None, "W", "11000", None),
    *[("Current.Import", phase, "A", "16.0", None) for phase in PHASES],
    *[("Voltage", phase, "V", "230.1", None) for phase in PHASES],
    ("SoC", None, "Percent", "55", "EV"),
    ("Current.Offered", None, "A", "16", None),
]


def meter_values(transaction_id: int, energy_wh: int) -> dict[str, Any]:
    """A 1.6 MeterValues payload with eleven sampled values."""
    samples: list[dict[str, Any]] = [
        {"value": str(energy_wh), "measurand": "Energy.Active.Import.Register", "unit": "Wh"}
    ]
    for measurand, phase, unit, value, location in _SAMPLES:
        sample = {"value": value, "measurand": measurand, "unit": unit}
        if phase:
            sample["phase"] = phase
        if location:
            sample["location"] = location
        samples.append(sample)
    return {
        "connectorId": 1,
        "transactionId": transaction_id,
        "meterValue": [{"timestamp": timestamp(), "sampledValue": samples}],
    }


def meter_value_201(energy_wh: int) -> dict[str, Any]:
    """The same eleven samples as a 2.0.1 MeterValue (numbers, unitOfMeasure)."""
    samples: list[dict[str, Any]] = [
        {
            "value": energy_wh,
            "measurand": "Energy.Active.Import.Register",
            "unitOfMeasure": {"unit": "Wh"},
        }
    ]
    for measurand, phase, unit, value, location in _SAMPLES:
        sample = {"value": float(value), "measurand": measurand, "unitOfMeasure": {"unit": unit}}
        if phase:
            sample["phase"] = phase
        if location:
            sample["location"] = location
        samples.append(sample)
    return {"timestamp": timestamp(), "sampledValue": samples}


class Charger:
    """One simulated charger: boots, starts a transaction, then loops over the mix."""

    subprotocol = "ocpp1.6"

    def __init__(self, index: int, url: str, tally: Tally) -> None:
        self.id = f"LOAD_{index:05d}"
        self.url = f"{url}/{self.id}"
        self.tally = tally
        self.ids = itertools.count(1)
        self.transaction_id = 0

    async def call(self, ws: ClientConnection, action: str, payload: dict[str, Any]) -> Any:
        unique_id = str(next(self.ids))
        started = time.perf_counter()
        await ws.send(json.dumps([2, unique_id, action, payload]))
        answer = json.loads(await ws.recv())
        self.tally.latencies.append(time.perf_counter() - started)
        if answer[0] != 3 or answer[1] != unique_id:
            self.tally.errors += 1
            if len(self.tally.failures) < 5:
                self.tally.failures.append(f"{action}: {answer}")
            return None
        return answer[2]

    async def boot_and_start(self, ws: ClientConnection) -> None:
        await self.call(
            ws, "BootNotification", {"chargePointVendor": "Bench", "chargePointModel": "Load"}
        )
        started = await self.call(
            ws,
            "StartTransaction",
            {"connectorId": 1, "idTag": "BENCH", "meterStart": 0, "timestamp": timestamp()},
        )
        self.transaction_id = started["transactionId"] if started else 0

    async def cycle(self, ws: ClientConnection, energy_wh: int) -> None:
        """Heartbeat, StatusNotification and two meter readings."""
        await self.call(ws, "Heartbeat", {})
        await self.call(
            ws,
            "StatusNotification",
            {"connectorId": 1, "status": "Charging", "errorCode": "NoError"},
        )
        for step in (0, 10):
            await self.call(ws, "MeterValues", meter_values(self.transaction_id, energy_wh + step))

    async def run(self, ready: asyncio.Event, stop: asyncio.Event) -> None:
        settled = False
        try:
            async with connect(
                self.url,
                subprotocols=[Subprotocol(self.subprotocol)],
                compression=None,
                ping_interval=None,
                open_timeout=60,
            ) as ws:
                self.tally.connected += 1
                await self.boot_and_start(ws)
                settled = True
                self.tally.settle()
                await ready.wait()
                energy = 0
                while not stop.is_set():
                    energy += 20
                    await self.cycle(ws, energy)
        except Exception as error:  # a benchmark reports failures, it does not stop on them
            if not settled:
                self.tally.settle()
            self.tally.errors += 1
            if len(self.tally.failures) < 5:
                self.tally.failures.append(f"{self.id}: {error!r}")


class Station201(Charger):
    """The same mix in OCPP 2.0.1: meter readings travel in TransactionEvent Updated."""

    subprotocol = "ocpp2.0.1"

    def __init__(self, index: int, url: str, tally: Tally) -> None:
        super().__init__(index, url, tally)
        self.seq_no = itertools.count()

    async def boot_and_start(self, ws: ClientConnection) -> None:
        await self.call(
            ws,
            "BootNotification",
            {"reason": "PowerUp", "chargingStation": {"model": "Load", "vendorName": "Bench"}},
        )
        await self.transaction_event(ws, "Started", "Authorized", meter_value_201(0))

    async def transaction_event(
        self, ws: ClientConnection, event_type: str, trigger: str, meter_value: dict[str, Any]
    ) -> None:
        payload: dict[str, Any] = {
            "eventType": event_type,
            "timestamp": timestamp(),
            "triggerReason": trigger,
            "seqNo": next(self.seq_no),
            "transactionInfo": {
                "transactionId": f"TX-{self.id}",
                "chargingState": "Charging",
            },
            "evse": {"id": 1, "connectorId": 1},
            "meterValue": [meter_value],
        }
        if event_type == "Started":
            # The token travels once, with the event it authorised, as chargers send it.
            payload["idToken"] = {"idToken": "BENCH", "type": "ISO14443"}
        await self.call(ws, "TransactionEvent", payload)

    async def cycle(self, ws: ClientConnection, energy_wh: int) -> None:
        await self.call(ws, "Heartbeat", {})
        await self.call(
            ws,
            "StatusNotification",
            {
                "timestamp": timestamp(),
                "connectorStatus": "Occupied",
                "evseId": 1,
                "connectorId": 1,
            },
        )
        for step in (0, 10):
            await self.transaction_event(
                ws, "Updated", "MeterValuePeriodic", meter_value_201(energy_wh + step)
            )


def batch_figures(metrics_url: str) -> str:
    """Mean group-commit batch size and time, from the server's Prometheus metrics."""
    values: dict[str, float] = {}
    with urllib.request.urlopen(metrics_url, timeout=10) as response:
        for line in response.read().decode().splitlines():
            name, _, value = line.partition(" ")
            if name.startswith("db_write_batch_") and name.endswith(("_sum", "_count")):
                values[name] = float(value)
    batches = values.get("db_write_batch_operations_count", 0.0)
    if not batches:
        return "no batches"
    size = values["db_write_batch_operations_sum"] / batches
    seconds = values["db_write_batch_seconds_sum"] / batches
    return f"{batches:.0f} batches, mean {size:.1f} operations, mean {seconds * 1000:.1f} ms"


FLEETS: dict[str, list[type[Charger]]] = {
    "1.6": [Charger],
    "2.0.1": [Station201],
    # Every other charger speaks 2.0.1.
    "mixed": [Charger, Station201],
}


async def run_load(
    url: str,
    chargers: int,
    duration: float,
    ramp: float,
    pid: int | None,
    metrics_url: str | None = None,
    fleet: str = "1.6",
) -> None:
    kinds = FLEETS[fleet]
    tally = Tally(expected=chargers)
    ready, stop = asyncio.Event(), asyncio.Event()
    tasks = []
    ramp_started = time.perf_counter()
    for index in range(chargers):
        kind = kinds[index % len(kinds)]
        tasks.append(asyncio.create_task(kind(index, url, tally).run(ready, stop)))
        if ramp:
            await asyncio.sleep(ramp / chargers)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(tally.all_settled.wait(), 120)
    ramp_seconds = time.perf_counter() - ramp_started
    tally.latencies.clear()
    errors_before = tally.errors
    ready.set()
    measured = time.perf_counter()
    await asyncio.sleep(duration)
    calls = len(tally.latencies)
    elapsed = time.perf_counter() - measured
    latencies = sorted(tally.latencies)
    stop.set()
    await asyncio.wait(tasks, timeout=30)
    rss = rss_mib(pid) if pid else None
    quantiles = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0.0] * 99
    print(f"chargers requested      {chargers} (OCPP {fleet})")
    print(f"connections held        {tally.connected}")
    print(f"ramp (connect + boot)   {ramp_seconds:.1f} s")
    print(f"measured for            {elapsed:.1f} s")
    print(f"calls                   {calls}")
    print(f"calls per second        {calls / elapsed:.0f}")
    print(f"latency p50             {quantiles[49] * 1000:.1f} ms")
    print(f"latency p99             {quantiles[98] * 1000:.1f} ms")
    print(f"errors (ramp / load)    {errors_before} / {tally.errors - errors_before}")
    print(f"server RSS              {f'{rss:.0f} MiB' if rss else 'unknown'}")
    if metrics_url:
        print(f"group commit            {batch_figures(metrics_url)}")
    for failure in tally.failures:
        print(f"  failure: {failure}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--chargers", type=int, default=1000)
    parser.add_argument(
        "--ocpp", choices=sorted(FLEETS), default="1.6", help="protocol of the fleet"
    )
    parser.add_argument("--duration", type=float, default=30.0, help="measured seconds")
    parser.add_argument("--ramp", type=float, default=10.0, help="seconds to open all connections")
    parser.add_argument("--url", help="an already running listener, e.g. ws://127.0.0.1:9000/ocpp")
    parser.add_argument("--server-pid", type=int, help="pid of that server, for its RSS")
    parser.add_argument(
        "--database-url", help="database for the spawned server (default: temp SQLite)"
    )
    args = parser.parse_args()
    # One descriptor per connection on both sides; the spawned server inherits the limit.
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    with contextlib.suppress(ImportError):
        import uvloop

        uvloop.install()
    if args.url:
        asyncio.run(
            run_load(
                args.url,
                args.chargers,
                args.duration,
                args.ramp,
                args.server_pid,
                fleet=args.ocpp,
            )
        )
        return
    with tempfile.TemporaryDirectory() as directory:
        ocpp_port, http_port = free_port(), free_port()
        env = dict(
            os.environ,
            CPO_DATABASE__URL=args.database_url or f"sqlite+aiosqlite:///{directory}/bench.db",
            CPO_OCPP__HOST="127.0.0.1",
            CPO_OCPP__PORT=str(ocpp_port),
            CPO_HTTP__HOST="127.0.0.1",
            CPO_HTTP__PORT=str(http_port),
            CPO_LOGGING__LEVEL="WARNING",
        )
        executable = Path(sys.executable).with_name("cpo-backend")
        server = subprocess.Popen([str(executable), "serve"], env=env)
        try:
            deadline = time.time() + 60
            while True:
                with (
                    contextlib.suppress(OSError),
                    socket.create_connection(("127.0.0.1", ocpp_port), 0.2),
                ):
                    break
                if time.time() > deadline or server.poll() is not None:
                    raise SystemExit("the server did not start")
                time.sleep(0.2)
            url = f"ws://127.0.0.1:{ocpp_port}/ocpp"
            print(f"server pid {server.pid}, database {env['CPO_DATABASE__URL']}")
            metrics_url = f"http://127.0.0.1:{http_port}/metrics"
            asyncio.run(
                run_load(
                    url,
                    args.chargers,
                    args.duration,
                    args.ramp,
                    server.pid,
                    metrics_url,
                    args.ocpp,
                )
            )
        finally:
            server.terminate()
            server.wait(30)


if __name__ == "__main__":
    main()
