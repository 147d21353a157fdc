"""Connection state: online, last seen, replacement of a connection by a newer one."""

from __future__ import annotations

import asyncio

import httpx

from simulators.ocpp16 import connect
from tests.conftest import eventually
from tests.e2e.helpers import assert_wire_timestamp, command, get_json, station


async def test_online_state_and_times_follow_the_connection(
    ocpp_url: str, api: httpx.AsyncClient
) -> None:
    async with connect(ocpp_url, "CP_LIVE") as cp:
        await cp.boot()
        found = await station(api, "CP_LIVE")
        assert found["online"] is True
        assert_wire_timestamp(found["connected_at"])
        assert_wire_timestamp(found["last_seen_at"])
        online = await get_json(api, "/api/stations", online="true")
        assert [s["id"] for s in online] == ["CP_LIVE"]
        assert (await get_json(api, "/health"))["connected_stations"] == 1

    async def offline() -> bool:
        return (await station(api, "CP_LIVE"))["online"] is False

    await eventually(offline)
    gone = await station(api, "CP_LIVE")
    assert gone["connected_at"] == found["connected_at"]
    assert gone["last_seen_at"] >= found["last_seen_at"]
    assert await get_json(api, "/api/stations", online="true") == []
    assert [s["id"] for s in await get_json(api, "/api/stations", online="false")] == ["CP_LIVE"]
    assert (await get_json(api, "/health"))["connected_stations"] == 0


async def test_a_new_connection_replaces_the_old_one(ocpp_url: str, api: httpx.AsyncClient) -> None:
    async with connect(ocpp_url, "CP_TWIN") as old:
        await old.boot()
        first_seen = (await station(api, "CP_TWIN"))["connected_at"]
        async with connect(ocpp_url, "CP_TWIN") as new:
            assert await old.wait_closed() == 1000
            assert (await new.boot()).status == "Accepted"
            # The old connection's clean-up runs after its close: give it the chance to
            # (wrongly) mark the station offline before looking.
            await asyncio.sleep(0.3)
            found = await station(api, "CP_TWIN")
            assert found["online"] is True
            assert found["connected_at"] >= first_seen
            assert (await get_json(api, "/health"))["connected_stations"] == 1
            # Commands go to the new connection.
            answer = await command(
                api, "CP_TWIN", "get-configuration", {"keys": ["HeartbeatInterval"]}
            )
            assert answer.status_code == 200, answer.text
            assert await new.wait_for("GetConfiguration") == {"key": ["HeartbeatInterval"]}
            assert not [r for r in old.received if r.action == "GetConfiguration"]

        async def offline() -> bool:
            return (await station(api, "CP_TWIN"))["online"] is False

        await eventually(offline)
