"""Old frames leave the message log; recent ones stay."""

from __future__ import annotations

from datetime import timedelta

import httpx

from cpo_backend.app import CpoBackend
from simulators.ocpp16 import connect
from tests.conftest import eventually


async def test_purge_keeps_recent_frames_and_drops_old_ones(
    backend: CpoBackend, ocpp_url: str, api: httpx.AsyncClient
) -> None:
    async with connect(ocpp_url, "CP_RETAIN") as cp:
        await cp.boot()
        await cp.heartbeat()

    async def frames() -> list[dict[str, object]]:
        found: list[dict[str, object]] = (await api.get("/api/stations/CP_RETAIN/messages")).json()
        return found

    async def all_logged() -> bool:
        # The log is written in the writer's next batch, not before the answer.
        return len(await frames()) == 4  # two calls in, two answers out

    await eventually(all_logged)
    logged = await frames()

    assert await backend.message_log.purge(timedelta(days=1)) == 0
    assert len(await frames()) == len(logged)

    # Everything logged before "now + 1 s" is older than the retention of -1 s.
    removed = await backend.message_log.purge(timedelta(seconds=-1), chunk=3)
    assert removed == len(logged)
    assert await frames() == []
