"""Ownership: a partner reaches only its own client-owned objects.

Two eMSPs (and, for 2.1.1, two legacy ones) are registered with one back-end; each
Receiver route is called by the other partner on the first one's objects and must answer
"unknown" (HTTP 404, status 2003) or, for commands naming a session or reservation, the
CommandResponse of an unknown one, leaving the objects as they were and the charger
untouched. The owner's own requests are the positive control.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from simulators.ocpi_hub import HubSimulator
from simulators.ocpp16 import connect
from tests.conftest import eventually
from tests.e2e.ocpi_support import (
    QUICK_OUTBOX,
    active_transactions,
    backend_fixture,
    location_body,
    registered_hub,
)

backend = backend_fixture(ocpi=QUICK_OUTBOX, ocpp={"response_timeout": 1.0})
STATION = "CP_OWN"
STAMP = "2026-11-23T10:00:00Z"


@pytest.fixture
async def location(api: httpx.AsyncClient) -> None:
    body = location_body(("1", STATION, 1), ("2", STATION, 2))
    assert (await api.put("/api/locations/LOC1", json=body)).is_success


@pytest.fixture
async def owner(api: httpx.AsyncClient, location: None) -> AsyncIterator[HubSimulator]:
    async with registered_hub(api, country_code="DE", party_id="MSP") as simulator:
        yield simulator


@pytest.fixture
async def intruder(api: httpx.AsyncClient, owner: HubSimulator) -> AsyncIterator[HubSimulator]:
    async with registered_hub(api, country_code="NL", party_id="OTH") as simulator:
        yield simulator


@pytest.fixture
async def legacy_owner(api: httpx.AsyncClient, location: None) -> AsyncIterator[HubSimulator]:
    async with registered_hub(api, party_id="OLD", version="2.1.1") as simulator:
        yield simulator


@pytest.fixture
async def legacy_intruder(
    api: httpx.AsyncClient, legacy_owner: HubSimulator
) -> AsyncIterator[HubSimulator]:
    async with registered_hub(api, country_code="NL", party_id="OLX", version="2.1.1") as simulator:
        yield simulator


@pytest.fixture
async def hub(api: httpx.AsyncClient, owner: HubSimulator) -> AsyncIterator[HubSimulator]:
    """A hub with DE/EMS and DE/EM2 behind it; it also (wrongly) reports DE/MSP, which is
    registered with us directly."""
    async with registered_hub(api, country_code="DE", party_id="HUB", role="HUB") as simulator:
        for party in ("EMS", "EM2", "MSP"):
            url = f"{simulator.module_url('hubclientinfo', 'RECEIVER')}/DE/{party}"
            info = {
                "party_id": party,
                "country_code": "DE",
                "role": "EMSP",
                "status": "CONNECTED",
                "last_updated": STAMP,
            }
            assert (await simulator.call("PUT", url, json=info, routed=False)).is_success
        yield simulator


def token_url(hub: HubSimulator, country_code: str, party_id: str, uid: str) -> str:
    return f"{hub.module_url('tokens', 'RECEIVER')}/{country_code}/{party_id}/{uid}"


def assert_unknown(response: httpx.Response) -> None:
    """The answer to a request about another party's object."""
    assert response.status_code == 404, response.text
    body = response.json()
    assert body["status_code"] == 2003, body
    assert "not one of the calling partner's" in body["status_message"]


def sender(country_code: str, party_id: str) -> dict[str, str]:
    return {"OCPI-from-country-code": country_code, "OCPI-from-party-id": party_id}


async def sent_to_charger(api: httpx.AsyncClient, action: str) -> int:
    """How many ``action`` requests the back-end sent to the station (its message log)."""
    entries = (await api.get(f"/api/stations/{STATION}/messages")).json()
    return sum(
        1 for e in entries if (e["direction"], e["message_type"], e["action"]) == ("out", 2, action)
    )


async def result_of(hub: HubSimulator, reference: str) -> Any:
    await hub.wait_for(lambda s: reference in s.command_results)
    return hub.state.command_results[reference]["result"]


# -- tokens -------------------------------------------------------------------------


async def test_221_tokens_of_another_partner_are_unknown(
    owner: HubSimulator, intruder: HubSimulator
) -> None:
    token = owner.token("OWN1", whitelist="ALLOWED")
    assert (await owner.push_token(token)).status_code == 201
    url = token_url(intruder, "DE", "MSP", "OWN1")
    rewrite = intruder.token("OWN1", whitelist="ALWAYS") | {"country_code": "DE", "party_id": "MSP"}
    patch = {"valid": False, "last_updated": STAMP}
    assert_unknown(await intruder.call("GET", url, params={"type": "RFID"}))
    assert_unknown(await intruder.call("PUT", url, json=rewrite, params={"type": "RFID"}))
    assert_unknown(await intruder.call("PATCH", url, json=patch, params={"type": "RFID"}))
    # Claiming to come from the owner (OCPI-from) changes nothing: it is not a role of
    # the intruder's credentials.
    spoofed = sender("DE", "MSP")
    assert_unknown(await intruder.call("PATCH", url, json=patch, headers=spoofed))
    # A token the owner does not have is no different: nothing can be learnt or created.
    fresh = token_url(intruder, "DE", "MSP", "NEW1")
    new = rewrite | {"uid": "NEW1"}
    assert_unknown(await intruder.call("PUT", fresh, json=new, params={"type": "RFID"}))
    # The owner's token is as it pushed it; the owner still reads and changes it.
    read = await owner.call("GET", token_url(owner, "DE", "MSP", "OWN1"))
    assert read.json()["data"] == token
    missing = await owner.call("GET", token_url(owner, "DE", "MSP", "NEW1"))
    assert missing.json()["status_code"] == 2004
    own_url = token_url(owner, "DE", "MSP", "OWN1")
    assert (await owner.call("PATCH", own_url, json=patch)).json()["status_code"] == 1000
    assert (await owner.call("GET", own_url)).json()["data"]["valid"] is False


async def test_211_tokens_of_another_partner_are_unknown(
    legacy_owner: HubSimulator, legacy_intruder: HubSimulator
) -> None:
    token = legacy_owner.token("OLD1", whitelist="ALLOWED")
    assert (await legacy_owner.push_token(token)).status_code == 201
    url = token_url(legacy_intruder, "DE", "OLD", "OLD1")
    rewrite = legacy_intruder.token("OLD1", whitelist="ALWAYS")
    patch = {"valid": False, "last_updated": STAMP}
    assert_unknown(await legacy_intruder.call("GET", url))
    assert_unknown(await legacy_intruder.call("PUT", url, json=rewrite))
    assert_unknown(await legacy_intruder.call("PATCH", url, json=patch))
    fresh = token_url(legacy_intruder, "DE", "OLD", "NEW1")
    assert_unknown(await legacy_intruder.call("PUT", fresh, json=rewrite | {"uid": "NEW1"}))
    own_url = token_url(legacy_owner, "DE", "OLD", "OLD1")
    assert (await legacy_owner.call("GET", own_url)).json()["data"] == token
    assert (await legacy_owner.call("GET", own_url.replace("OLD1", "NEW1"))).status_code == 404
    assert (await legacy_owner.call("PATCH", own_url, json=patch)).json()["status_code"] == 1000
    assert (await legacy_owner.call("GET", own_url)).json()["data"]["valid"] is False


async def test_a_hub_reaches_only_the_parties_behind_it(
    hub: HubSimulator, owner: HubSimulator
) -> None:
    behind = hub.token("HUB1") | {"party_id": "EMS", "contract_id": "DE-EMS-C1"}
    url = token_url(hub, "DE", "EMS", "HUB1")
    assert (await hub.call("PUT", url, json=behind, params={"type": "RFID"})).status_code == 201
    assert (await hub.call("GET", url)).json()["data"] == behind
    # Relaying for EMS, the hub may touch EMS's tokens; relaying for EM2 it may not.
    as_ems = await hub.call("GET", url, headers=sender("DE", "EMS"))
    assert as_ems.json()["status_code"] == 1000
    assert_unknown(await hub.call("GET", url, headers=sender("DE", "EM2")))
    # A party it never reported, and one registered with us directly, are not its own.
    stranger = behind | {"party_id": "XYZ"}
    assert_unknown(await hub.call("PUT", token_url(hub, "DE", "XYZ", "HUB1"), json=stranger))
    direct = behind | {"party_id": "MSP"}
    assert_unknown(await hub.call("PUT", token_url(hub, "DE", "MSP", "HUB1"), json=direct))
    # Another partner can neither take the hub's party over nor read what the hub said.
    info_url = f"{owner.module_url('hubclientinfo', 'RECEIVER')}/DE/EMS"
    claim = {
        "party_id": "EMS",
        "country_code": "DE",
        "role": "EMSP",
        "status": "OFFLINE",
        "last_updated": STAMP,
    }
    taken = await owner.call("PUT", info_url, json=claim, routed=False)
    assert taken.status_code == 404
    assert taken.json()["status_code"] == 2003
    assert (await owner.call("GET", info_url, routed=False)).status_code == 404
    kept = await hub.call("GET", info_url.replace(owner.base_url, hub.base_url), routed=False)
    assert kept.json()["data"]["status"] == "CONNECTED"
    assert (await hub.call("GET", url)).json()["data"] == behind


# -- commands -----------------------------------------------------------------------


async def test_221_commands_naming_another_partners_objects_are_refused(
    api: httpx.AsyncClient, owner: HubSimulator, intruder: HubSimulator, ocpp_url: str
) -> None:
    owners_token = owner.token("DRV1", whitelist="ALLOWED")
    assert (await owner.push_token(owners_token)).status_code == 201
    async with connect(ocpp_url, STATION, connectors=2) as cp:
        await cp.start_up()
        # The intruder starts and reserves on the owner's contract: unknown token.
        for name, fields in (
            ("START_SESSION", {"location_id": "LOC1", "evse_uid": "1"}),
            (
                "RESERVE_NOW",
                {
                    "expiry_date": "2099-01-01T00:00:00Z",
                    "reservation_id": "R-X",
                    "location_id": "LOC1",
                    "evse_uid": "1",
                },
            ),
        ):
            body = fields | {"token": owners_token | {"last_updated": STAMP}, "response_url": "x"}
            url = f"{intruder.module_url('commands', 'RECEIVER')}/{name}"
            assert_unknown(await intruder.call("POST", url, json=body))
        # ... and the owner's token was not rewritten by it.
        read = await owner.call("GET", token_url(owner, "DE", "MSP", "DRV1"))
        assert read.json()["data"] == owners_token

        # The owner reserves and starts: the positive control.
        reserved, answer = await owner.command(
            "RESERVE_NOW",
            token=owners_token,
            expiry_date="2099-01-01T00:00:00Z",
            reservation_id="R-1",
            location_id="LOC1",
            evse_uid="1",
        )
        assert answer["data"]["result"] == "ACCEPTED"
        assert await result_of(owner, reserved) == "ACCEPTED"
        started, answer = await owner.command(
            "START_SESSION", token=owners_token, location_id="LOC1", evse_uid="2"
        )
        assert answer["data"]["result"] == "ACCEPTED"
        assert await result_of(owner, started) == "ACCEPTED"
        await owner.wait_for(
            lambda s: any(x.get("status") == "ACTIVE" for x in s.sessions.values())
        )
        [session_id] = owner.state.sessions

        # The intruder names the owner's session and reservation: unknown to it.
        _, stop = await intruder.command("STOP_SESSION", session_id=session_id)
        assert stop["data"]["result"] == "UNKNOWN_SESSION"
        _, cancel = await intruder.command("CANCEL_RESERVATION", reservation_id="R-1")
        assert cancel["data"]["result"] == "REJECTED"
        assert len(await active_transactions(api, STATION)) == 1

        # The owner still stops its session and cancels its reservation.
        cancelled, cancel = await owner.command("CANCEL_RESERVATION", reservation_id="R-1")
        assert cancel["data"]["result"] == "ACCEPTED"
        assert await result_of(owner, cancelled) == "ACCEPTED"
        stopped, stop = await owner.command("STOP_SESSION", session_id=session_id)
        assert stop["data"]["result"] == "ACCEPTED"
        assert await result_of(owner, stopped) == "ACCEPTED"

        # The charger was asked only the owner's commands, once each.
        async def logged() -> bool:
            return await sent_to_charger(api, "RemoteStopTransaction") == 1

        await eventually(logged)
        assert await sent_to_charger(api, "RemoteStartTransaction") == 1
        assert await sent_to_charger(api, "ReserveNow") == 1
        assert await sent_to_charger(api, "CancelReservation") == 1
    assert intruder.state.command_results == {}
    # Sender lists: the owner's session and CDR are listed to the owner only.
    await owner.wait_for(lambda s: bool(s.cdrs))
    since = {"date_from": "2020-01-01T00:00:00Z"}
    assert [s["id"] for s in await owner.get_all("sessions", **since)] == [session_id]
    assert [c["session_id"] for c in await owner.get_all("cdrs")] == [session_id]
    assert await intruder.get_all("sessions", **since) == []
    assert await intruder.get_all("cdrs") == []


async def test_211_commands_naming_another_partners_session_are_refused(
    api: httpx.AsyncClient,
    legacy_owner: HubSimulator,
    legacy_intruder: HubSimulator,
    ocpp_url: str,
) -> None:
    token = legacy_owner.token("OLD2")
    async with connect(ocpp_url, STATION, connectors=2) as cp:
        await cp.start_up()
        started, answer = await legacy_owner.command(
            "START_SESSION", token=token, location_id="LOC1", evse_uid="1"
        )
        assert answer["data"] == {"result": "ACCEPTED"}
        assert await result_of(legacy_owner, started) == "ACCEPTED"
        await eventually(lambda: active_transactions(api, STATION))
        # The announced Session becomes ACTIVE once the projector has seen the start.
        await legacy_owner.wait_for(
            lambda s: any(x["status"] == "ACTIVE" for x in s.sessions.values())
        )
        [session_id] = legacy_owner.state.sessions
        _, stop = await legacy_intruder.command("STOP_SESSION", session_id=session_id)
        assert stop["data"] == {"result": "UNKNOWN_SESSION"}
        assert len(await active_transactions(api, STATION)) == 1
        stopped, stop = await legacy_owner.command("STOP_SESSION", session_id=session_id)
        assert stop["data"] == {"result": "ACCEPTED"}
        assert await result_of(legacy_owner, stopped) == "ACCEPTED"
        assert await sent_to_charger(api, "RemoteStopTransaction") == 1
    assert legacy_intruder.state.command_results == {}


async def test_a_hub_commands_for_the_sending_party_only(
    api: httpx.AsyncClient, hub: HubSimulator, ocpp_url: str
) -> None:
    token = hub.token("HUB2") | {"party_id": "EMS", "contract_id": "DE-EMS-C2"}
    commands = hub.module_url("commands", "RECEIVER")

    async def command(name: str, party: str, **fields: Any) -> tuple[str, httpx.Response]:
        reference = f"{name}-{party}"
        url = f"{hub.base_url}/emsp/2.2.1/commands/{name}/{reference}"
        body = fields | {"response_url": url}
        reply = await hub.call("POST", f"{commands}/{name}", json=body, headers=sender("DE", party))
        return reference, reply

    async with connect(ocpp_url, STATION, connectors=2) as cp:
        await cp.start_up()
        place = {"location_id": "LOC1", "evse_uid": "1"}
        # EM2 may not start on EMS's contract, nor the hub on a directly registered one.
        _, refused = await command("START_SESSION", "EM2", token=token, **place)
        assert_unknown(refused)
        direct = token | {"party_id": "MSP"}
        _, refused = await command("START_SESSION", "HUB", token=direct, **place)
        assert_unknown(refused)
        started, answer = await command("START_SESSION", "EMS", token=token, **place)
        assert answer.json()["data"]["result"] == "ACCEPTED"
        assert await result_of(hub, started) == "ACCEPTED"
        await hub.wait_for(lambda s: any(x.get("status") == "ACTIVE" for x in s.sessions.values()))
        [session_id] = hub.state.sessions
        # EM2 is behind the same hub, yet EMS's session is not its own.
        _, stop = await command("STOP_SESSION", "EM2", session_id=session_id)
        assert stop.json()["data"]["result"] == "UNKNOWN_SESSION"
        stopped, stop = await command("STOP_SESSION", "EMS", session_id=session_id)
        assert stop.json()["data"]["result"] == "ACCEPTED"
        assert await result_of(hub, stopped) == "ACCEPTED"
        assert await sent_to_charger(api, "RemoteStartTransaction") == 1
