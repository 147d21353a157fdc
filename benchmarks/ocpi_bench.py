"""OCPI figures: pulling 10,000 EVSEs page by page, pushing location edits, and the time
from StopTransaction to the CDR accepted by the eMSP.

Starts a back-end, ``cpo-backend serve`` in a child process as an operator runs it, on a
temporary SQLite file, or on ``--database-url`` (a fresh, empty database), and a hub
simulator (``simulators/ocpi_hub.py``, an eMSP written from the spec) on 127.0.0.1.
Everything talks over real HTTP and real OCPP 1.6 websockets. The load generator (the hub,
the chargers, the operator API client) runs in this process, so that the back-end's
figures are its own. ``--in-process`` runs the back-end in this process and event loop
instead (``CpoBackend``, started as ``serve`` starts it), as the figures before
2026-12-03 were taken; ``--backend-tree`` runs ``serve`` from another checkout, to measure
two versions side by side in one run.

Set-up: a realistic tariff ``AC1`` (session fee, time-of-day energy prices, parking time)
through ``PUT /api/tariffs/AC1``, then ``--locations`` locations of ``--evses`` EVSEs each
(default 5,000 x 2 = 10,000 EVSEs, every connector priced by ``AC1``) through ``PUT
/api/locations/{id}``, ``--setup-concurrency`` requests in flight. The EVSEs of the first
``--chargers`` locations are bound to the connectors of charger ``BENCH0000``... The hub
registers with the back-end (token A from the operator API) *after* the set-up, so the
10,000 EVSEs are not pushed to it one by one; it pulls them instead.

1. Pull: the hub follows ``Link: <...>; rel="next"`` from ``GET /ocpi/2.2.1/locations``
   without a ``limit`` (pages of the back-end's ``ocpi.page_limit``, ``--page-limit``).
   One puller, ``--rounds`` full pulls one after the other, then ``--pullers`` concurrent
   pullers doing ``--rounds`` full pulls each. Printed: time per full pull, pages/s,
   p50/p99 latency of a page request (request sent to body received), and the latency
   of the first and the last page (``offset`` 0 against the last offset).
2. Push: ``--edits`` locations are edited at once through the operator API (as many
   in flight as ``--setup-concurrency`` connections allow); printed: the time until all
   are written and until the hub has acknowledged every resulting PUT.
3. Sessions: ``--chargers`` OCPP 1.6 simulators (``simulators/ocpp16.py``, ``--evses``
   connectors each) boot; the hub PUTs one token per connector (whitelist ``ALWAYS``).
   Every connector runs its share of ``--sessions`` sessions back to back (first start
   staggered over ``--charge-seconds``): Preparing, Authorize, StartTransaction,
   Charging with MeterValues every second (``MeterValueSampleInterval`` 1) for
   ``--charge-seconds``, StopTransaction, Finishing, Available. Per session the time
   from the StopTransaction frame leaving the charger until the hub has answered the
   CDR POST with status 1000 (an ASGI middleware on the hub takes the clock when the
   answer's body is sent). Printed: p50/p95/p99/max of that and of its three stages
   (stop sent -> stop answered, -> CDR built: the CDR's ``last_updated``, -> accepted
   by the hub), sessions/s from the first start to the last CDR, and what the process
   did meanwhile: requests the hub received, group-commit batches (from ``/metrics``)
   and how busy the writer was, CPU of the back-end's event loop thread and of its
   process, and (in process) the event loop lag. Every CDR must carry the tariff and a
   price.

Back-end settings: ``ocpi.page_limit`` from ``--page-limit`` (default 100, the back-end's
default); ``ocpi.session_update_interval`` 1 s instead of 60 s, so that the one-second
meter values of these short sessions cause kwh PATCHes at the rate one-minute values
would in real life; ``ocpi.outbox_poll_interval`` from ``--outbox-poll-interval``
(default 1 s, the back-end's default: the outbox worker and the CDR sealer are woken by
commits, the poll only catches up); everything else at its default (SQLite WAL with
``synchronous=FULL``, group commit, message log on). Logging: the back-end's structlog
lines below ERROR and the standard ``logging`` (uvicorn, simulators) below ERROR are
silenced.

    .venv/bin/python benchmarks/ocpi_bench.py
    .venv/bin/python benchmarks/ocpi_bench.py --locations 500 --sessions 50 --chargers 20
    .venv/bin/python benchmarks/ocpi_bench.py --skip-pull --edits 0 --backend-tree /tmp/old
    .venv/bin/python benchmarks/ocpi_bench.py \\
        --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/ocpi_bench
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import logging
import math
import os
import random
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cpo_backend.app import CpoBackend
from cpo_backend.config import LoggingSettings, load_settings
from cpo_backend.logs import configure_logging
from simulators.ocpi_hub import HubSimulator
from simulators.ocpp16 import ChargePoint16

TARIFF_ID = "AC1"
# What an AC public charger costs in the Netherlands: a session fee, a peak and an
# off-peak energy price, and parking after charging (billed per minute).
TARIFF: dict[str, Any] = {
    "currency": "EUR",
    "type": "REGULAR",
    "elements": [
        {"price_components": [{"type": "FLAT", "price": 0.35, "vat": 21.0, "step_size": 1}]},
        {
            "price_components": [
                {"type": "ENERGY", "price": 0.59, "vat": 21.0, "step_size": 1},
            ],
            "restrictions": {"start_time": "17:00", "end_time": "21:00"},
        },
        {"price_components": [{"type": "ENERGY", "price": 0.45, "vat": 21.0, "step_size": 1}]},
        {
            "price_components": [
                {"type": "PARKING_TIME", "price": 2.4, "vat": 21.0, "step_size": 60}
            ]
        },
    ],
}


def station_id(number: int) -> str:
    return f"BENCH{number:04d}"


def location_body(number: int, evses: int, bound: bool) -> dict[str, Any]:
    """A location as an operator describes it; ``bound``: EVSE n is connector n of a charger."""
    connector = {
        "id": "1",
        "standard": "IEC_62196_T2",
        "format": "SOCKET",
        "power_type": "AC_3_PHASE",
        "max_voltage": 230,
        "max_amperage": 32,
        "max_electric_power": 22080,
        "tariff_ids": [TARIFF_ID],
    }
    return {
        "publish": True,
        "name": f"Bench site {number}",
        "address": f"Benchstraat {number}",
        "city": "Utrecht",
        "postal_code": "3511AB",
        "country": "NLD",
        "coordinates": {
            "latitude": f"{52.0 + (number % 1000) / 10_000:.5f}",
            "longitude": f"{5.0 + (number // 1000) / 1_000:.5f}",
        },
        "time_zone": "Europe/Amsterdam",
        "parking_type": "ON_STREET",
        "facilities": ["CAFE", "SUPERMARKET"],
        "opening_times": {"twentyfourseven": True},
        "evses": [
            {
                "uid": f"B{number}-{evse}",
                "evse_id": f"NL*CPO*EB{number}X{evse}",
                "station_id": station_id(number) if bound else None,
                "ocpp_evse_id": evse if bound else None,
                "capabilities": ["RFID_READER", "REMOTE_START_STOP_CAPABLE"],
                "physical_reference": str(evse),
                "connectors": [connector],
            }
            for evse in range(1, evses + 1)
        ],
    }


@dataclass(frozen=True, slots=True)
class Backend:
    """Where the back-end under test listens, and its process (None: this one)."""

    http_port: int
    ocpp_port: int
    pid: int | None = None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def cpu_seconds(pid: int | None) -> tuple[float, float]:
    """CPU seconds so far of the back-end's event loop (main) thread and of its process."""
    if pid is None:
        return time.thread_time(), time.process_time()
    return _stat_cpu(f"/proc/{pid}/task/{pid}/stat"), _stat_cpu(f"/proc/{pid}/stat")


def _stat_cpu(path: str) -> float:
    # proc_pid_stat(5): utime and stime are fields 14 and 15; the name in parentheses
    # (field 2) may hold spaces, so count from after it, where field 3 is.
    fields = Path(path).read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def quantile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) of ``values``, nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


async def bounded(concurrency: int, jobs: list[Callable[[], Awaitable[None]]]) -> None:
    """Run ``jobs`` with at most ``concurrency`` of them at a time."""
    limit = asyncio.Semaphore(concurrency)

    async def guarded(job: Callable[[], Awaitable[None]]) -> None:
        async with limit:
            await job()

    await asyncio.gather(*(guarded(job) for job in jobs))


# -- set-up -----------------------------------------------------------------------------


async def create_network(
    api: httpx.AsyncClient, locations: int, evses: int, chargers: int, concurrency: int
) -> None:
    response = await api.put(f"/api/tariffs/{TARIFF_ID}", json=TARIFF)
    assert response.is_success, response.text

    def put(number: int) -> Callable[[], Awaitable[None]]:
        async def job() -> None:
            body = location_body(number, evses, bound=number < chargers)
            answer = await api.put(f"/api/locations/L{number:05d}", json=body)
            assert answer.is_success, answer.text

        return job

    await bounded(concurrency, [put(number) for number in range(locations)])


# -- 1. pull ----------------------------------------------------------------------------


@dataclass
class Pulls:
    latencies: list[float] = field(default_factory=list)
    pull_seconds: list[float] = field(default_factory=list)


async def pull_all(hub: HubSimulator, pulls: Pulls, locations: int, evses: int) -> None:
    """One full pull following the Link headers; checks that every object came once."""
    url: str | None = hub.module_url("locations")
    ids: set[str] = set()
    evse_count = 0
    started = time.perf_counter()
    while url is not None:
        sent = time.perf_counter()
        response = await hub.call("GET", url)
        pulls.latencies.append(time.perf_counter() - sent)
        body = response.json()
        assert body["status_code"] == 1000, body
        ids.update(location["id"] for location in body["data"])
        evse_count += sum(len(location["evses"]) for location in body["data"])
        url = response.links.get("next", {}).get("url")
    pulls.pull_seconds.append(time.perf_counter() - started)
    assert len(ids) == locations, f"pulled {len(ids)} locations, expected {locations}"
    assert evse_count == locations * evses, f"pulled {evse_count} EVSEs"


def report_pulls(label: str, pulls: Pulls, wall: float, locations: int) -> None:
    pages = len(pulls.latencies)
    mean_pull = statistics.mean(pulls.pull_seconds)
    print(
        f"{label}: {len(pulls.pull_seconds)} full pulls, {pages} pages in {wall:.2f} s: "
        f"{pages / wall:.1f} pages/s, {len(pulls.pull_seconds) * locations / wall:.0f} "
        f"locations/s; {mean_pull:.2f} s per full pull; page latency "
        f"p50 {ms(quantile(pulls.latencies, 0.5))}, p99 {ms(quantile(pulls.latencies, 0.99))}, "
        f"max {ms(max(pulls.latencies))}"
    )


async def offset_probe(hub: HubSimulator, locations: int, page_limit: int) -> None:
    """Latency of the first and of the last page: does a page cost more further on?"""
    url = hub.module_url("locations")
    last = max(0, (locations - 1) // page_limit * page_limit)
    figures = []
    for offset in (0, last):
        samples = []
        for _ in range(10):
            sent = time.perf_counter()
            response = await hub.call("GET", url, params={"offset": offset})
            samples.append(time.perf_counter() - sent)
            assert response.json()["status_code"] == 1000
        figures.append(f"offset {offset}: {ms(statistics.median(samples))}")
    print(f"page latency by offset (median of 10): {', '.join(figures)}")


def loop_cpu_since(thread_time: float, perf_counter: float) -> float:
    """The share of one core this (event loop) thread used since the two readings."""
    return (time.thread_time() - thread_time) / (time.perf_counter() - perf_counter)


async def bench_pull(
    hub: HubSimulator, locations: int, evses: int, page_limit: int, rounds: int, pullers: int
) -> None:
    single = Pulls()
    cpu = time.thread_time()
    started = time.perf_counter()
    for _ in range(rounds):
        await pull_all(hub, single, locations, evses)
    report_pulls("1 puller", single, time.perf_counter() - started, locations)
    print(f"  event loop thread CPU {loop_cpu_since(cpu, started):.0%}")

    concurrent = Pulls()

    async def puller() -> None:
        for _ in range(rounds):
            await pull_all(hub, concurrent, locations, evses)

    cpu = time.thread_time()
    started = time.perf_counter()
    await asyncio.gather(*(puller() for _ in range(pullers)))
    report_pulls(f"{pullers} pullers", concurrent, time.perf_counter() - started, locations)
    print(f"  event loop thread CPU {loop_cpu_since(cpu, started):.0%}")
    await offset_probe(hub, locations, page_limit)


# -- 2. pushes of location edits ---------------------------------------------------------


async def bench_push(
    api: httpx.AsyncClient, hub: HubSimulator, edits: int, evses: int, chargers: int
) -> None:
    """Edit ``edits`` locations at once; time until the hub acknowledged every PUT."""
    before = len(hub.pushes("locations", "PUT"))

    async def edit(number: int) -> None:
        body = location_body(number, evses, bound=number < chargers)
        body["name"] += " (renamed)"
        answer = await api.put(f"/api/locations/L{number:05d}", json=body)
        assert answer.is_success, answer.text

    started = time.perf_counter()
    await asyncio.gather(*(edit(number) for number in range(edits)))
    written = time.perf_counter() - started
    await hub.wait_for(
        lambda _state: len(hub.pushes("locations", "PUT")) - before >= edits, timeout=600
    )
    elapsed = time.perf_counter() - started
    print(
        f"push: {edits} location edits written in {written:.2f} s, all PUTs acknowledged by "
        f"the hub after {elapsed:.2f} s ({edits / elapsed:.0f} pushes/s)"
    )


# -- 3. sessions to CDRs ----------------------------------------------------------------


@dataclass
class CdrLog:
    """When the hub answered the CDR POST of each session (by session id) with 1000."""

    expected: int
    answered: dict[str, float] = field(default_factory=dict)
    all_in: asyncio.Event = field(default_factory=asyncio.Event)

    def record(self, session_id: str) -> None:
        self.answered[session_id] = time.time()
        if len(self.answered) >= self.expected:
            self.all_in.set()


class CdrClock:
    """ASGI middleware on the hub: notes the moment the answer to a CDR POST was sent."""

    def __init__(self, app: ASGIApp, log: CdrLog) -> None:
        self.app = app
        self.log = log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not (
            scope["type"] == "http"
            and scope["method"] == "POST"
            and scope["path"].endswith("/cdrs")
        ):
            await self.app(scope, receive, send)
            return
        request = bytearray()
        response = bytearray()

        async def receiving() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                request.extend(message.get("body", b""))
            return message

        async def sending(message: Message) -> None:
            await send(message)
            if message["type"] != "http.response.body":
                return
            response.extend(message.get("body", b""))
            if not message.get("more_body", False) and json.loads(response)["status_code"] == 1000:
                self.log.record(str(json.loads(request)["session_id"]))

        await self.app(scope, receiving, sending)


class TimedCharger(ChargePoint16):
    """A 1.6 charger that notes when each StopTransaction frame left and was answered."""

    def __init__(self, cp_id: str, **kwargs: Any) -> None:
        super().__init__(cp_id, **kwargs)
        self.stop_sent: dict[str, float] = {}
        self.stop_answered: dict[str, float] = {}

    async def _send(self, message: str) -> None:
        if '"StopTransaction"' in message:
            frame = json.loads(message)
            if frame[0] == 2 and frame[2] == "StopTransaction":
                self.stop_sent[str(frame[3]["transactionId"])] = time.time()
        await super()._send(message)

    async def stop_transaction(self, transaction_id: int, **kwargs: Any) -> Any:
        answer = await super().stop_transaction(transaction_id, **kwargs)
        self.stop_answered[str(transaction_id)] = time.time()
        return answer


def wire_time(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


async def writer_totals(metrics_url: str) -> tuple[float, float, float]:
    """Group-commit batches, operations and seconds so far, from the back-end's metrics."""
    async with httpx.AsyncClient(timeout=10) as client:
        text = (await client.get(metrics_url)).text
    values: dict[str, float] = {}
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        values[name] = float(value) if name.startswith("db_write_batch_") else 0.0
    return (
        values.get("db_write_batch_operations_count", 0.0),
        values.get("db_write_batch_operations_sum", 0.0),
        values.get("db_write_batch_seconds_sum", 0.0),
    )


@contextlib.asynccontextmanager
async def loop_lag(samples: list[float], period: float = 0.05) -> AsyncIterator[None]:
    """Note how late a ``period`` sleep wakes up: is the one event loop saturated?"""

    async def tick() -> None:
        while True:
            started = time.perf_counter()
            await asyncio.sleep(period)
            samples.append(time.perf_counter() - started - period)

    task = asyncio.create_task(tick())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def spread(values: list[float]) -> str:
    return (
        f"p50 {ms(quantile(values, 0.5))}, p95 {ms(quantile(values, 0.95))}, "
        f"p99 {ms(quantile(values, 0.99))}, max {ms(max(values))}"
    )


async def bench_sessions(
    hub: HubSimulator,
    cdr_log: CdrLog,
    backend: Backend,
    chargers: int,
    evses: int,
    sessions: int,
    charge_seconds: float,
    timeout: float,
) -> None:
    config = {"MeterValueSampleInterval": "1", "HeartbeatInterval": "300"}
    fleet = [TimedCharger(station_id(n), connectors=evses, config=config) for n in range(chargers)]
    outlets = [(charger, n) for charger in fleet for n in range(1, evses + 1)]
    stagger = random.Random(1)
    refused: list[str] = []
    lags: list[float] = []

    def push(uid: str) -> Callable[[], Awaitable[None]]:
        async def job() -> None:
            answer = await hub.push_token(hub.token(uid, whitelist="ALWAYS"))
            assert answer.json()["status_code"] == 1000, answer.text

        return job

    async def run_outlet(index: int, charger: TimedCharger, connector: int) -> None:
        await asyncio.sleep(stagger.uniform(0, charge_seconds))
        uid = f"DRV{charger.id}C{connector}"
        for _ in range(index, sessions, len(outlets)):
            done = await charger.plug_in_and_charge(connector, uid, duration=charge_seconds)
            if not done.accepted:
                refused.append(f"{charger.id}/{connector}")

    ocpp_url = f"ws://127.0.0.1:{backend.ocpp_port}/ocpp"
    metrics_url = f"http://127.0.0.1:{backend.http_port}/metrics"
    async with contextlib.AsyncExitStack() as stack:
        started = time.perf_counter()
        for charger in fleet:
            await stack.enter_async_context(charger.session(ocpp_url))
        await asyncio.gather(*(charger.start_up() for charger in fleet))
        await bounded(20, [push(f"DRV{charger.id}C{n}") for charger, n in outlets])
        print(
            f"sessions set-up: {chargers} chargers booted, {len(outlets)} tokens pushed in "
            f"{time.perf_counter() - started:.1f} s"
        )
        received_before = len(hub.state.received)
        writer_before = await writer_totals(metrics_url)
        first_start = time.time()
        cpu_before = cpu_seconds(backend.pid)
        load_cpu_before = time.process_time()
        # The lag of this loop is the back-end's only when the back-end runs in it.
        async with loop_lag(lags) if backend.pid is None else contextlib.nullcontext():
            await asyncio.gather(
                *(run_outlet(index, charger, n) for index, (charger, n) in enumerate(outlets))
            )
            try:
                await asyncio.wait_for(cdr_log.all_in.wait(), timeout)
            except TimeoutError:
                print(f"timeout: {len(cdr_log.answered)} of {sessions} CDRs after {timeout:.0f} s")
        wall = max(cdr_log.answered.values(), default=time.time()) - first_start
        cpu_after = cpu_seconds(backend.pid)
        elapsed = time.time() - first_start
        loop_cpu, process_cpu = (
            (after - before) / elapsed for after, before in zip(cpu_after, cpu_before, strict=True)
        )
        load_cpu = (time.process_time() - load_cpu_before) / elapsed
        writer_after = await writer_totals(metrics_url)
        pushes = hub.state.received[received_before:]

    stop_sent = {tx: at for charger in fleet for tx, at in charger.stop_sent.items()}
    stop_answered = {tx: at for charger in fleet for tx, at in charger.stop_answered.items()}
    cdrs = {str(cdr["session_id"]): cdr for cdr in hub.state.cdrs}
    unpriced = [
        tx
        for tx, cdr in cdrs.items()
        if not cdr.get("tariffs") or not float(cdr["total_cost"]["excl_vat"]) > 0
    ]
    done = [tx for tx in stop_sent if tx in cdr_log.answered]
    print(
        f"sessions: {len(done)} of {sessions} CDRs accepted by the hub "
        f"({len(refused)} refused starts, {len(unpriced)} unpriced CDRs), "
        f"{len(outlets)} connectors, {charge_seconds:g} s of charging each; "
        f"{wall:.1f} s from the first start to the last CDR: {len(done) / wall:.1f} sessions/s"
    )
    if not done:
        return
    energy = statistics.mean(float(cdrs[tx]["total_energy"]) for tx in done)
    cost = statistics.mean(float(cdrs[tx]["total_cost"]["incl_vat"]) for tx in done)
    periods = statistics.mean(len(cdrs[tx]["charging_periods"]) for tx in done)
    print(f"CDRs: mean {energy:.4f} kWh, {cost:.2f} EUR incl. VAT, {periods:.1f} charging periods")
    built = {tx: wire_time(cdrs[tx]["last_updated"]) for tx in done}
    for label, values in (
        (
            "StopTransaction sent -> CDR accepted",
            [cdr_log.answered[t] - stop_sent[t] for t in done],
        ),
        ("  stop sent -> stop answered", [stop_answered[t] - stop_sent[t] for t in done]),
        ("  stop answered -> CDR built", [built[t] - stop_answered[t] for t in done]),
        ("  CDR built -> accepted by hub", [cdr_log.answered[t] - built[t] for t in done]),
    ):
        print(f"{label}: {spread(values)}")
    by_module = {
        module: sum(f"/{module}/" in r.path or r.path.endswith(f"/{module}") for r in pushes)
        for module in ("locations", "sessions", "cdrs")
    }
    batches, operations, seconds = (a - b for a, b in zip(writer_after, writer_before, strict=True))
    print(
        f"during the sessions: hub received {len(pushes)} requests "
        f"({', '.join(f'{n} {module}' for module, n in by_module.items())}: "
        f"{len(pushes) / wall:.0f}/s); group commit {batches:.0f} batches of "
        f"{operations / max(batches, 1):.1f} operations, {seconds / max(batches, 1) * 1000:.1f} ms "
        f"each, writer busy {seconds / wall:.0%}; back-end event loop thread CPU "
        f"{loop_cpu:.0%}, process CPU {process_cpu:.0%} of a core"
        + (f"; event loop lag {spread(lags)}" if lags else "")
        # The hub answers in the load generator's process: when that is near a full core,
        # the last stage waits for the hub as much as for the back-end.
        + (f"; load generator (chargers, hub) CPU {load_cpu:.0%}" if backend.pid else "")
    )


# -- the run ----------------------------------------------------------------------------


async def run(args: argparse.Namespace, workdir: Path) -> None:
    database_url = args.database_url or f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
    settings = load_settings(
        None,
        database={"url": database_url},
        ocpp={"host": "127.0.0.1", "port": 0},
        http={"host": "127.0.0.1", "port": 0},
        logging={"level": "WARNING"},
        ocpi={
            "page_limit": args.page_limit,
            "session_update_interval": 1.0,
            "outbox_poll_interval": args.outbox_poll_interval,
        },
    )
    # The back-end's own lines (structlog) below ERROR would flood the figures.
    configure_logging(LoggingSettings(level="ERROR"))
    logging.disable(logging.WARNING)
    where = "in this process" if args.in_process else f"serve from {args.backend_tree or 'here'}"
    print(f"back-end {where}, database {database_url.split('@')[-1]}, page limit {args.page_limit}")
    cdr_log = CdrLog(args.sessions)
    hub = HubSimulator()
    hub.app.add_middleware(CdrClock, log=cdr_log)
    # The hub outlives the back-end, so that the back-end never pushes into a closed port.
    async with hub:
        if not args.in_process:
            async with served(args, database_url, workdir) as backend:
                await measure(args, backend, hub, cdr_log)
            return
        in_process = CpoBackend(settings)
        await in_process.start()
        # As ``cpo-backend serve`` does once started.
        gc.collect()
        gc.freeze()
        gc.set_threshold(50_000, 20, 100)
        try:
            await measure(args, Backend(in_process.http_port, in_process.ocpp_port), hub, cdr_log)
        finally:
            await in_process.stop()


@contextlib.asynccontextmanager
async def served(
    args: argparse.Namespace, database_url: str, workdir: Path
) -> AsyncIterator[Backend]:
    """``cpo-backend serve`` in a child process with the benchmark's settings, from this
    checkout or from ``--backend-tree``; its output goes to ``serve.log`` in ``workdir``."""
    backend = Backend(free_port(), free_port())
    env = os.environ | {
        "CPO_DATABASE__URL": database_url,
        "CPO_OCPP__HOST": "127.0.0.1",
        "CPO_OCPP__PORT": str(backend.ocpp_port),
        "CPO_HTTP__HOST": "127.0.0.1",
        "CPO_HTTP__PORT": str(backend.http_port),
        "CPO_LOGGING__LEVEL": "ERROR",
        "CPO_OCPI__PAGE_LIMIT": str(args.page_limit),
        "CPO_OCPI__SESSION_UPDATE_INTERVAL": "1.0",
        "CPO_OCPI__OUTBOX_POLL_INTERVAL": str(args.outbox_poll_interval),
    }
    command = [str(Path(sys.executable).with_name("cpo-backend")), "serve"]
    cwd = None
    if args.backend_tree:
        # Its own package first: ``-c`` puts the working directory first on the path.
        env["PYTHONPATH"] = cwd = str(args.backend_tree)
        command = [sys.executable, "-c", "from cpo_backend.cli import main; main()", "serve"]
    log_path = workdir / "serve.log"
    with log_path.open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            *command, env=env, cwd=cwd, stdout=log, stderr=log
        )
    try:
        deadline = time.perf_counter() + 60
        while not all(listening(port) for port in (backend.http_port, backend.ocpp_port)):
            if process.returncode is not None or time.perf_counter() > deadline:
                raise SystemExit(f"serve did not start:\n{log_path.read_text()[-3000:]}")
            await asyncio.sleep(0.2)
        yield Backend(backend.http_port, backend.ocpp_port, process.pid)
    finally:
        if process.returncode is None:
            process.terminate()
            await process.wait()


def listening(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
        return True
    return False


async def measure(
    args: argparse.Namespace, backend: Backend, hub: HubSimulator, cdr_log: CdrLog
) -> None:
    base = f"http://127.0.0.1:{backend.http_port}"
    limits = httpx.Limits(max_connections=args.setup_concurrency)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as api:
        started = time.perf_counter()
        chargers = min(args.chargers, args.locations)
        await create_network(api, args.locations, args.evses, chargers, args.setup_concurrency)
        elapsed = time.perf_counter() - started
        print(
            f"set-up: {args.locations} locations, {args.locations * args.evses} EVSEs "
            f"through the operator API in {elapsed:.1f} s "
            f"({args.locations / elapsed:.0f} locations/s, {args.setup_concurrency} at a time)"
        )
        issued = (await api.post("/api/ocpi/partners/token-a")).json()
        await hub.register_with(issued["versions_url"], issued["token_a"])
        if not args.skip_pull:
            await bench_pull(
                hub, args.locations, args.evses, args.page_limit, args.rounds, args.pullers
            )
        if args.edits:
            await bench_push(api, hub, min(args.edits, args.locations), args.evses, chargers)
    if args.sessions:
        await bench_sessions(
            hub,
            cdr_log,
            backend,
            chargers,
            args.evses,
            args.sessions,
            args.charge_seconds,
            args.timeout,
        )
    await quiet(hub)


async def quiet(hub: HubSimulator, pause: float = 0.5, most: float = 10.0) -> None:
    """Wait until the back-end has pushed nothing for ``pause`` seconds (at most ``most``),
    so that stopping it does not cut a push in flight."""
    deadline = time.perf_counter() + most
    seen = -1
    while seen != len(hub.state.received) and time.perf_counter() < deadline:
        seen = len(hub.state.received)
        await asyncio.sleep(pause)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--locations", type=int, default=5000)
    parser.add_argument("--evses", type=int, default=2, help="EVSEs per location")
    parser.add_argument("--page-limit", type=int, default=100, help="the back-end's page limit")
    parser.add_argument("--rounds", type=int, default=3, help="full pulls per puller")
    parser.add_argument("--pullers", type=int, default=4, help="concurrent pullers")
    parser.add_argument("--skip-pull", action="store_true", help="no pull")
    parser.add_argument("--edits", type=int, default=300, help="location edits pushed; 0: none")
    parser.add_argument("--sessions", type=int, default=200, help="0: no sessions")
    parser.add_argument("--chargers", type=int, default=50, help="OCPP 1.6 chargers")
    parser.add_argument("--charge-seconds", type=float, default=3.0, help="per session")
    parser.add_argument("--setup-concurrency", type=int, default=20)
    parser.add_argument("--outbox-poll-interval", type=float, default=1.0)
    parser.add_argument("--timeout", type=float, default=120.0, help="wait for the CDRs")
    parser.add_argument(
        "--database-url", help="a fresh database (default: a temporary SQLite file)"
    )
    parser.add_argument(
        "--in-process", action="store_true", help="the back-end in this process and event loop"
    )
    parser.add_argument(
        "--backend-tree", type=Path, help="serve from this checkout (side-by-side runs)"
    )
    args = parser.parse_args()
    with contextlib.suppress(ImportError):
        import uvloop

        uvloop.install()
    with tempfile.TemporaryDirectory() as workdir:
        asyncio.run(run(args, Path(workdir)))


if __name__ == "__main__":
    main()
