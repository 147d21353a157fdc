"""Everything decided at the websocket handshake: subprotocol, unknown stations, credentials
(security profile 1) and TLS (security profile 2)."""

from __future__ import annotations

import ssl
import subprocess
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import InvalidStatus
from websockets.typing import Subprotocol

from simulators.common import basic_auth_header
from simulators.ocpp16 import connect
from tests.conftest import eventually
from tests.e2e.helpers import (
    create_token,
    register_station,
    running_with,
    station,
)

PASSWORD = "correct-horse-battery"


async def handshake_status(url: str, **kwargs: object) -> int:
    """The HTTP status of a refused handshake (fails if it is accepted)."""
    with pytest.raises(InvalidStatus) as refused:
        async with ws_connect(url, open_timeout=5, **kwargs):  # type: ignore[arg-type]
            pass
    return refused.value.response.status_code


async def test_ocpp16_subprotocol_is_negotiated(ocpp_url: str) -> None:
    async with connect(ocpp_url, "CP_PROTO", subprotocols=("ocpp1.5", "ocpp1.6")) as cp:
        assert cp.subprotocol == "ocpp1.6"
        assert (await cp.boot()).status == "Accepted"


async def test_no_supported_subprotocol_is_refused_with_400(ocpp_url: str) -> None:
    url = f"{ocpp_url}/CP_NOPROTO"
    assert await handshake_status(url, subprotocols=[Subprotocol("ocpp1.5")]) == 400
    assert await handshake_status(url) == 400


# Identities a charger may not have (OCPP 2.0.1 part 4: at most 48 printable characters,
# no ":" (basic auth) and no "/" (the path)); the same rule holds for 1.6. Sent
# percent-encoded, as the last path segment.
BAD_IDENTITIES = [
    "..",
    ".",
    "a%2Fb",
    "a:b",
    "nul%00",
    "%F0%9F%94%8C",
    "tab%09",
    "X" * 49,
    "Y" * 5000,
]


async def test_invalid_station_identity_is_refused_with_400_and_not_stored(
    ocpp_url: str, api: httpx.AsyncClient
) -> None:
    for identity in BAD_IDENTITIES:
        status = await handshake_status(
            f"{ocpp_url}/{identity}", subprotocols=[Subprotocol("ocpp1.6")]
        )
        assert status == 400, identity
    listed = (await api.get("/api/stations")).json()
    assert listed == [], listed
    # The longest identity allowed, with the characters 2.0.1 names, still opens.
    longest = "CP_" + "a" * 39 + "*-=+@."
    async with connect(ocpp_url, longest) as cp:
        assert (await cp.boot()).status == "Accepted"
    assert (await station(api, longest))["id"] == longest


async def test_unknown_station_accepted_is_auto_registered(
    ocpp_url: str, api: httpx.AsyncClient
) -> None:
    async with connect(ocpp_url, "CP_NEWCOMER") as cp:
        boot = await cp.boot()
        assert boot.status == "Accepted"
        assert boot.interval == 300  # ocpp.heartbeat_interval
    found = await station(api, "CP_NEWCOMER")
    assert found["auto_registered"] is True
    assert found["registration"] == "Accepted"


async def test_unknown_station_pending_boots_pending_and_may_not_authorize(
    database_url: str,
) -> None:
    async with running_with(
        database_url, ocpp={"unknown_stations": "pending", "pending_retry_interval": 7}
    ) as server:
        await create_token(server.api, "GOOD-TAG")
        async with connect(server.ocpp_url, "CP_PENDING") as cp:
            boot = await cp.boot()
            assert (boot.status, boot.interval) == ("Pending", 7)
            assert (await cp.authorize("GOOD-TAG")).id_tag_info["status"] == "Invalid"
        found = await station(server.api, "CP_PENDING")
        assert (found["registration"], found["auto_registered"]) == ("Pending", True)
        # The operator accepts it: the next connection boots Accepted and may charge.
        patched = await server.api.patch(
            "/api/stations/CP_PENDING", json={"registration": "Accepted"}
        )
        assert patched.status_code == 200
        async with connect(server.ocpp_url, "CP_PENDING") as cp:
            assert (await cp.boot()).status == "Accepted"
            assert (await cp.authorize("GOOD-TAG")).id_tag_info["status"] == "Accepted"


async def test_unknown_station_rejected_with_404_known_one_accepted(database_url: str) -> None:
    async with running_with(database_url, ocpp={"unknown_stations": "reject"}) as server:
        assert (
            await handshake_status(
                f"{server.ocpp_url}/CP_STRANGER", subprotocols=[Subprotocol("ocpp1.6")]
            )
            == 404
        )
        assert (await server.api.get("/api/stations/CP_STRANGER")).status_code == 404
        await register_station(server.api, "CP_KNOWN")
        async with connect(server.ocpp_url, "CP_KNOWN") as cp:
            assert (await cp.boot()).status == "Accepted"


async def test_registered_pending_and_rejected_stations_boot_as_the_operator_decided(
    ocpp_url: str, api: httpx.AsyncClient
) -> None:
    await register_station(api, "CP_WAIT", registration="Pending")
    await register_station(api, "CP_NO", registration="Rejected")
    async with connect(ocpp_url, "CP_WAIT") as waiting, connect(ocpp_url, "CP_NO") as refused:
        assert (await waiting.boot()).status == "Pending"
        rejected = await refused.boot()
        assert rejected.status == "Rejected"
        assert rejected.interval > 0


async def test_password_protected_station_profile_1(ocpp_url: str, api: httpx.AsyncClient) -> None:
    created = await register_station(api, "CP_LOCKED", password=PASSWORD)
    assert created["has_password"] is True
    assert "password" not in created
    assert "password_hash" not in created
    url = f"{ocpp_url}/CP_LOCKED"
    protocols = [Subprotocol("ocpp1.6")]
    assert await handshake_status(url, subprotocols=protocols) == 401
    for header in (
        basic_auth_header("CP_LOCKED", "wrong-password-123"),
        basic_auth_header("CP_OTHER", PASSWORD),  # right password, someone else's name
        "Basic !!!not-base64!!!",
        f"Bearer {PASSWORD}",
    ):
        status = await handshake_status(
            url, subprotocols=protocols, additional_headers={"Authorization": header}
        )
        assert status == 401, header
    async with connect(ocpp_url, "CP_LOCKED", password=PASSWORD) as cp:
        assert (await cp.boot()).status == "Accepted"
    assert (await station(api, "CP_LOCKED"))["vendor"] == "CPO-Sim"


@pytest.fixture
def tls_files(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


async def test_tls_listener_with_basic_auth_profile_2(
    database_url: str, tls_files: tuple[Path, Path]
) -> None:
    cert, key = tls_files
    async with running_with(
        database_url, ocpp={"tls_cert": str(cert), "tls_key": str(key)}
    ) as server:
        await register_station(server.api, "CP_TLS", password=PASSWORD)
        url = f"wss://127.0.0.1:{server.backend.ocpp_port}/ocpp"
        trusting = ssl.create_default_context(cafile=str(cert))
        async with connect(url, "CP_TLS", password=PASSWORD, ssl=trusting) as cp:
            assert (await cp.boot()).status == "Accepted"
            assert (await cp.heartbeat()).current_time.endswith("Z")
        assert (
            await handshake_status(
                f"{url}/CP_TLS",
                ssl=trusting,
                subprotocols=[Subprotocol("ocpp1.6")],
                additional_headers={"Authorization": basic_auth_header("CP_TLS", "nope-nope-1")},
            )
            == 401
        )
        # A client that does not trust the certificate never gets a session.
        with pytest.raises(ssl.SSLCertVerificationError):
            async with connect(url, "CP_TLS", password=PASSWORD, ssl=ssl.create_default_context()):
                pass

        async def offline() -> bool:
            # The station is marked offline once the server has seen its socket close.
            return (await station(server.api, "CP_TLS"))["online"] is False

        await eventually(offline)
