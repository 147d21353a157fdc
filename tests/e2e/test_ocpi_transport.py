"""OCPI transport rules: tokens, the envelope on every answer, ids, routing, pagination."""

from __future__ import annotations

import base64
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from simulators.ocpi_hub import HubSimulator
from tests.e2e.ocpi_support import hub_fixture, location_body

hub = hub_fixture()


def assert_envelope(response: httpx.Response, status_code: int) -> None:
    body = response.json()
    assert set(body) == {"data", "status_code", "status_message", "timestamp"}
    assert body["status_code"] == status_code
    assert body["timestamp"].endswith("Z")
    assert len(body["timestamp"]) == len("2026-11-23T20:35:13.123Z")


@pytest.mark.parametrize(
    "authorization",
    [None, "Token " + base64.b64encode(b"unknown").decode(), "Bearer abc", "Token"],
)
async def test_missing_or_unknown_token_is_401(
    api: httpx.AsyncClient, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    response = await api.get("/ocpi/versions", headers=headers)
    assert response.status_code == 401
    assert_envelope(response, 2000)


async def test_bad_json_and_bad_fields(hub: HubSimulator) -> None:
    url = hub.module_url("credentials")
    unparsable = await hub.call(
        "PUT", url, content=b'{"token": ', headers={"Content-Type": "application/json"}
    )
    assert unparsable.status_code == 400
    assert_envelope(unparsable, 2001)
    no_content_type = await hub.call("PUT", url, content=b"not json at all")
    assert no_content_type.status_code == 400
    assert_envelope(no_content_type, 2001)
    missing = await hub.call("PUT", url, json={"token": "abc"}, routed=False)
    assert missing.status_code == 200
    assert_envelope(missing, 2001)
    assert "roles" in missing.json()["status_message"]


async def test_unknown_path_and_method_keep_the_envelope(hub: HubSimulator) -> None:
    missing = await hub.call("GET", hub.module_url("locations") + "/A/B/C/D")
    assert missing.status_code == 404
    assert_envelope(missing, 2000)
    wrong_method = await hub.call("POST", hub.module_url("locations"), json={})
    assert wrong_method.status_code == 405
    assert_envelope(wrong_method, 2000)


async def test_unknown_location_is_2003(hub: HubSimulator) -> None:
    response = await hub.call("GET", hub.module_url("locations") + "/NOPE")
    assert response.status_code == 404
    assert_envelope(response, 2003)


async def test_message_ids_are_echoed_or_created(hub: HubSimulator) -> None:
    url = hub.module_url("locations")
    echoed = await hub.call(
        "GET", url, headers={"X-Request-ID": "req-1", "X-Correlation-ID": "corr-1"}
    )
    assert echoed.headers["X-Request-ID"] == "req-1"
    assert echoed.headers["X-Correlation-ID"] == "corr-1"
    async with httpx.AsyncClient() as client:
        bare = await client.get(url.rsplit("/", 2)[0] + "/versions")
    assert bare.status_code == 401
    assert bare.headers["X-Request-ID"]
    assert bare.headers["X-Correlation-ID"]


async def test_routing_headers_only_on_functional_modules(hub: HubSimulator) -> None:
    locations = await hub.call("GET", hub.module_url("locations"))
    assert locations.headers["OCPI-from-country-code"] == "NL"
    assert locations.headers["OCPI-from-party-id"] == "CPO"
    assert locations.headers["OCPI-to-country-code"] == "DE"
    assert locations.headers["OCPI-to-party-id"] == "MSP"
    credentials = await hub.call("GET", hub.module_url("credentials"), routed=False)
    assert "OCPI-from-party-id" not in credentials.headers


async def test_pagination_walks_every_page_with_filters(
    api: httpx.AsyncClient, hub: HubSimulator
) -> None:
    for number in range(5):
        body = location_body((f"P{number}", None, None))
        assert (await api.put(f"/api/locations/LOC{number}", json=body)).status_code == 200
    url = hub.module_url("locations")
    first = await hub.call("GET", url, params={"limit": 2, "date_from": "2000-01-01T00:00:00Z"})
    assert first.headers["X-Total-Count"] == "5"
    assert first.headers["X-Limit"] == "2"
    assert [loc["id"] for loc in first.json()["data"]] == ["LOC0", "LOC1"]
    next_url = first.links["next"]["url"]
    query = parse_qs(urlsplit(next_url).query)
    assert query == {"offset": ["2"], "limit": ["2"], "date_from": ["2000-01-01T00:00:00.000Z"]}
    ids = [loc["id"] for loc in await hub.get_all("locations", limit=2)]
    assert ids == [f"LOC{number}" for number in range(5)]
    last = await hub.call("GET", url, params={"offset": 4, "limit": 2})
    assert "next" not in last.links
    # date_to is exclusive, date_from inclusive.
    stamp = first.json()["data"][1]["last_updated"]
    before = await hub.call("GET", url, params={"date_to": stamp})
    assert [loc["id"] for loc in before.json()["data"]] == ["LOC0"]
    since = await hub.call("GET", url, params={"date_from": stamp})
    assert since.json()["data"][0]["id"] == "LOC1"
    assert since.headers["X-Total-Count"] == "4"


async def test_limit_above_maximum_is_lowered(api: httpx.AsyncClient, hub: HubSimulator) -> None:
    response = await hub.call("GET", hub.module_url("locations"), params={"limit": 100000})
    assert response.headers["X-Limit"] == "100"


@pytest.mark.parametrize(
    "params", [{"offset": "-1"}, {"limit": "ten"}, {"date_from": "yesterday"}, {"date_to": "1"}]
)
async def test_bad_pagination_parameters_are_2001(
    hub: HubSimulator, params: dict[str, str]
) -> None:
    response = await hub.call("GET", hub.module_url("locations"), params=params)
    assert response.status_code == 200
    assert_envelope(response, 2001)


async def test_hub_client_info_is_stored_without_routing(hub: HubSimulator) -> None:
    url = hub.module_url("credentials").replace("credentials", "hubclientinfo") + "/BE/ABC"
    info = {
        "country_code": "BE",
        "party_id": "ABC",
        "role": "EMSP",
        "status": "CONNECTED",
        "last_updated": "2026-11-23T10:00:00Z",
    }
    created = await hub.call("PUT", url, json=info, routed=False)
    assert created.status_code == 201
    assert "OCPI-from-party-id" not in created.headers
    fetched = (await hub.call("GET", url, routed=False)).json()["data"]
    assert fetched["status"] == "CONNECTED"
    mismatch = await hub.call("PUT", url.replace("ABC", "XYZ"), json=info, routed=False)
    assert_envelope(mismatch, 2001)
