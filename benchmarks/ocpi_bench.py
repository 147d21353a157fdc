"""OCPI throughput: pulling locations page by page, and pushing changes through the outbox.

Starts a back-end on a temporary SQLite file and a hub simulator registered with it, then

* creates ``--locations`` locations of two EVSEs each and times a full pull of the
  locations list (100 per page, following the ``Link`` headers);
* changes every location again and times until the hub has acknowledged every PUT (each
  one written to the outbox in the change's own transaction, delivered over HTTP).

    .venv/bin/python benchmarks/ocpi_bench.py [--locations 300]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import tempfile
import time
from pathlib import Path

import httpx

from cpo_backend.app import CpoBackend
from cpo_backend.config import load_settings
from simulators.ocpi_hub import HubSimulator


def location(number: int, name: str) -> dict[str, object]:
    connector = {
        "id": "1",
        "standard": "IEC_62196_T2",
        "format": "SOCKET",
        "power_type": "AC_3_PHASE",
        "max_voltage": 230,
        "max_amperage": 32,
    }
    return {
        "name": name,
        "address": f"Benchstraat {number}",
        "city": "Utrecht",
        "country": "NLD",
        "coordinates": {"latitude": "52.09090", "longitude": "5.12111"},
        "time_zone": "Europe/Amsterdam",
        "evses": [{"uid": f"B{number}-{evse}", "connectors": [connector]} for evse in (1, 2)],
    }


async def run(count: int, workdir: Path) -> None:
    settings = load_settings(
        None,
        database={"url": f"sqlite+aiosqlite:///{workdir / 'bench.db'}"},
        ocpp={"host": "127.0.0.1", "port": 0},
        http={"host": "127.0.0.1", "port": 0},
        logging={"level": "WARNING"},
        ocpi={"page_limit": 100, "outbox_poll_interval": 0.2},
    )
    backend = CpoBackend(settings)
    await backend.start()
    try:
        base = f"http://127.0.0.1:{backend.http_port}"
        async with httpx.AsyncClient(base_url=base, timeout=30) as api, HubSimulator() as hub:
            issued = (await api.post("/api/ocpi/partners/token-a")).json()
            await hub.register_with(issued["versions_url"], issued["token_a"])
            for number in range(count):
                await api.put(f"/api/locations/L{number}", json=location(number, "first"))
            await hub.wait_for(lambda s: len(s.locations) == count, timeout=600)

            started = time.perf_counter()
            pulled = await hub.get_all("locations")
            elapsed = time.perf_counter() - started
            assert len(pulled) == count
            print(f"pull: {count} locations in {elapsed:.2f} s ({count / elapsed:.0f}/s)")

            before = len(hub.pushes("locations", "PUT"))
            started = time.perf_counter()
            await asyncio.gather(
                *(
                    api.put(f"/api/locations/L{number}", json=location(number, "second"))
                    for number in range(count)
                )
            )
            written = time.perf_counter() - started
            await hub.wait_for(
                lambda s: len(hub.pushes("locations", "PUT")) - before >= count, timeout=600
            )
            elapsed = time.perf_counter() - started
            print(
                f"push: {count} changes written in {written:.2f} s, all acknowledged by the "
                f"hub after {elapsed:.2f} s ({count / elapsed:.0f} pushes/s)"
            )
    finally:
        await backend.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--locations", type=int, default=300)
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    with tempfile.TemporaryDirectory() as workdir:
        asyncio.run(run(args.locations, Path(workdir)))


if __name__ == "__main__":
    main()
