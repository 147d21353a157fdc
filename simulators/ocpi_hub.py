"""An OCPI 2.2.1 or 2.1.1 eMSP (or hub) platform on 127.0.0.1: the CPO interface's other side.

It is deliberately written without the back-end's OCPI code, from the spec alone, so
that a misreading on our side shows up as a disagreement here. It can:

- issue a token A and accept the CPO's registration, or register with the CPO itself;
- pull the CPO's modules (following ``Link`` pages) with its credentials token;
- receive pushes (PUT/PATCH/POST) on its Receiver endpoints, apply location updates to
  its own copy and keep every request for a test to inspect;
- fail the next N pushes on purpose, to exercise the CPO's retries, or refuse the pushes
  of one module (or one object of it) with a chosen HTTP and OCPI status, as a partner
  that rejects a request for good does;
- advertise its endpoint URLs with a trailing slash, serving them only so spelled (any
  other spelling is redirected, as many platforms do).

``cpo-sim hub`` runs it from the command line (see ``simulators/__main__.py``).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import secrets
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

VERSION = "2.2.1"
# Receiver modules this platform offers: pushes from the CPO land on these.
RECEIVER_MODULES = ("locations", "tariffs", "sessions", "cdrs")


def _now() -> str:
    moment = datetime.now(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _reply(
    data: Any = None, status_code: int = 1000, http_status: int = 200, message: str | None = None
) -> JSONResponse:
    if message is None:
        message = "Success" if status_code == 1000 else "Simulated failure"
    body = {"data": data, "status_code": status_code, "status_message": message}
    body["timestamp"] = _now()
    return JSONResponse(body, status_code=http_status)


def _token_from(header: str | None, version: str = VERSION) -> str | None:
    """The credentials token of an ``Authorization: Token ...`` header: Base64 in 2.2.1,
    as sent in 2.1.1."""
    if not header or not header.startswith("Token "):
        return None
    if version == "2.1.1":
        return header[6:].strip()
    try:
        return base64.b64decode(header[6:].strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None


@dataclass
class Received:
    """One request the CPO made to this platform, and the answer it got."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    http_status: int = 200
    status_code: int = 1000

    @property
    def accepted(self) -> bool:
        return self.http_status < 300 and self.status_code == 1000


@dataclass(frozen=True)
class Refusal:
    """Refuse the pushes of ``module`` (only ``method`` ones, only those of the object
    ``object_id``: the location, tariff or session id in the URL, a CDR's id) with this
    HTTP status and OCPI status, every time until it is removed from ``HubState.refusals``."""

    module: str
    http_status: int = 400
    status_code: int = 2001
    method: str | None = None
    object_id: str | None = None
    message: str = "Simulated refusal"

    def matches(self, module: str, method: str, object_id: str | None) -> bool:
        return (
            module == self.module
            and self.method in (None, method)
            and self.object_id in (None, object_id)
        )


@dataclass
class HubState:
    tokens_a: set[str] = field(default_factory=set)
    # The token the CPO presents to us, and the one we present to it.
    token_from_cpo: str | None = None
    token_to_cpo: str | None = None
    cpo_endpoints: dict[tuple[str, str], str] = field(default_factory=dict)
    cpo_roles: list[dict[str, Any]] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    locations: dict[str, dict[str, Any]] = field(default_factory=dict)
    tariffs: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Our drivers' tokens (pushed to the CPO with push_token) and the real-time
    # authorization answer ("allowed") for each; a delay longer than the CPO's timeout
    # simulates an unreachable eMSP.
    tokens: dict[str, dict[str, Any]] = field(default_factory=dict)
    authorizations: dict[str, str] = field(default_factory=dict)
    authorize_delay: float = 0.0
    # CommandResults the CPO posted to our response URLs, by the URL's last segment.
    command_results: dict[str, dict[str, Any]] = field(default_factory=dict)
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    cdrs: list[dict[str, Any]] = field(default_factory=list)
    fail_next_pushes: int = 0
    refusals: list[Refusal] = field(default_factory=list)
    # Seconds before a push of the module is taken: a platform slow to take locations,
    # say (CDRs are never delayed).
    push_delays: dict[str, float] = field(default_factory=dict)

    def refusal(self, module: str, method: str, object_id: str | None) -> Refusal | None:
        return next((r for r in self.refusals if r.matches(module, method, object_id)), None)


class HubSimulator:
    def __init__(
        self,
        *,
        country_code: str = "DE",
        party_id: str = "MSP",
        role: str = "EMSP",
        version: str = VERSION,
        trailing_slash: bool = False,
    ) -> None:
        self.party = {"country_code": country_code, "party_id": party_id}
        self.role = role
        # "2.1.1": plain tokens, no routing headers, 2.1.1 credentials and Tokens, and
        # every endpoint without a role.
        self.version = version
        # Endpoint URLs advertised ending in "/" (credentials and cdrs are then served at
        # that spelling only: without the slash they answer 307, like a strict platform).
        self.trailing_slash = trailing_slash
        self.state = HubState()
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None
        self._socket: socket.socket | None = None
        self._http = httpx.AsyncClient(timeout=10)
        # Set whenever the CPO pushed something: wait_for re-checks then.
        self._changed = asyncio.Event()
        self.app = self._build_app()

    # -- lifecycle ------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        config = uvicorn.Config(self.app, host=host, port=port, log_level="warning", lifespan="off")
        self._socket = config.bind_socket()
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[self._socket]))
        while not self._server.started:
            if self._task.done():
                await self._task
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await self._task
        await self._http.aclose()

    async def __aenter__(self) -> HubSimulator:
        await self.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        assert self._socket is not None, "not started"
        host, port = self._socket.getsockname()[:2]
        return f"http://{host}:{port}/ocpi"

    @property
    def versions_url(self) -> str:
        return f"{self.base_url}/versions"

    def issue_token_a(self) -> str:
        token = secrets.token_hex(16)
        self.state.tokens_a.add(token)
        return token

    def credentials(self, token: str) -> dict[str, Any]:
        if self.version == "2.1.1":
            business = {"business_details": {"name": "Hub simulator"}}
            return {"token": token, "url": self.versions_url} | business | self.party
        return {
            "token": token,
            "url": self.versions_url,
            "roles": [
                {"role": self.role, "business_details": {"name": "Hub simulator"}} | self.party
            ],
        }

    # -- calling the CPO ------------------------------------------------------------

    def _headers(self, token: str, routed: bool = True) -> dict[str, str]:
        legacy = self.version == "2.1.1"
        encoded = token if legacy else base64.b64encode(token.encode()).decode()
        routed = routed and not legacy
        headers = {
            "Authorization": f"Token {encoded}",
            "X-Request-ID": str(uuid.uuid4()),
            "X-Correlation-ID": str(uuid.uuid4()),
        }
        if routed:
            role = self.state.cpo_roles[0] if self.state.cpo_roles else {}
            headers["OCPI-from-country-code"] = self.party["country_code"]
            headers["OCPI-from-party-id"] = self.party["party_id"]
            if role:
                headers["OCPI-to-country-code"] = role["country_code"]
                headers["OCPI-to-party-id"] = role["party_id"]
        return headers

    async def _fetch_endpoints(self, versions_url: str, token: str) -> None:
        versions = (await self._http.get(versions_url, headers=self._headers(token, False))).json()
        url = next(v["url"] for v in versions["data"] if v["version"] == self.version)
        details = (await self._http.get(url, headers=self._headers(token, False))).json()
        # 2.1.1 endpoints have no role: one URL serves both interfaces of its module.
        self.state.cpo_endpoints = {
            (e["identifier"], role): e["url"]
            for e in details["data"]["endpoints"]
            for role in ([e["role"]] if "role" in e else ["SENDER", "RECEIVER"])
        }

    async def register_with(self, versions_url: str, token_a: str) -> dict[str, Any]:
        """Register with the CPO as the credentials Sender; returns the CPO's credentials."""
        await self._fetch_endpoints(versions_url, token_a)
        token_b = secrets.token_hex(16)
        self.state.token_from_cpo = token_b
        response = await self._http.post(
            self.state.cpo_endpoints[("credentials", "SENDER")],
            json=self.credentials(token_b),
            headers=self._headers(token_a, False),
        )
        body = response.json()
        if body["status_code"] != 1000:
            raise RuntimeError(f"registration refused: {body}")
        self.state.token_to_cpo = body["data"]["token"]
        self.state.cpo_roles = body["data"].get("roles") or [body["data"]]
        await self._fetch_endpoints(versions_url, self.state.token_to_cpo)
        return dict(body["data"])

    def token(self, uid: str, whitelist: str = "ALWAYS", valid: bool = True) -> dict[str, Any]:
        """One of our drivers' RFID tokens, as an OCPI Token object of our version."""
        if self.version == "2.1.1":
            return {
                "uid": uid,
                "type": "RFID",
                "auth_id": f"{self.party['country_code']}-{self.party['party_id']}-C{uid}",
                "issuer": "Hub simulator",
                "valid": valid,
                "whitelist": whitelist,
                "last_updated": _now(),
            }
        return {
            **self.party,
            "uid": uid,
            "type": "RFID",
            "contract_id": f"{self.party['country_code']}-{self.party['party_id']}-C{uid}",
            "issuer": "Hub simulator",
            "valid": valid,
            "whitelist": whitelist,
            "last_updated": _now(),
        }

    async def push_token(self, token: dict[str, Any]) -> httpx.Response:
        """PUT a token to the CPO's tokens Receiver and remember it."""
        self.state.tokens[token["uid"]] = token
        owner = token if "country_code" in token else self.party
        url = "/".join(
            (
                self.module_url("tokens", "RECEIVER"),
                owner["country_code"],
                owner["party_id"],
                token["uid"],
            )
        )
        # 2.1.1 has no type parameter: the body's type names the token.
        params = {} if self.version == "2.1.1" else {"type": token["type"]}
        return await self.call("PUT", url, json=token, params=params)

    async def command(self, name: str, **fields: Any) -> tuple[str, dict[str, Any]]:
        """POST a command to the CPO with a fresh response_url; (its id, CommandResponse)."""
        reference = uuid.uuid4().hex
        body = fields | {
            "response_url": f"{self.base_url}/emsp/{self.version}/commands/{name}/{reference}"
        }
        response = await self.call(
            "POST", f"{self.module_url('commands', 'RECEIVER')}/{name}", json=body
        )
        return reference, dict(response.json())

    def module_url(self, module: str, role: str = "SENDER") -> str:
        return self.state.cpo_endpoints[(module, role)]

    async def call(
        self,
        method: str,
        url: str,
        *,
        token: str | None = None,
        routed: bool = True,
        **kwargs: Any,
    ) -> httpx.Response:
        """A request to the CPO with our credentials token (or ``token``)."""
        used = token if token is not None else self.state.token_to_cpo
        assert used is not None, "not registered"
        headers = self._headers(used, routed) | kwargs.pop("headers", {})
        return await self._http.request(method, url, headers=headers, **kwargs)

    async def get_all(self, module: str, **params: Any) -> list[Any]:
        """Every object of a CPO Sender module, following the ``Link: rel="next"`` pages."""
        url: str | None = self.module_url(module)
        items: list[Any] = []
        query: dict[str, Any] | None = params or None
        while url is not None:
            response = await self.call("GET", url, params=query)
            body = response.json()
            assert body["status_code"] == 1000, body
            items.extend(body["data"])
            url = response.links.get("next", {}).get("url")
            query = None
        return items

    async def wait_for(self, check: Callable[[HubState], bool], timeout: float = 10.0) -> None:
        async with asyncio.timeout(timeout):
            while not check(self.state):
                self._changed.clear()
                await self._changed.wait()

    def pushes(self, module: str, method: str | None = None) -> list[Received]:
        return [
            r
            for r in self.state.received
            if f"/{module}/" in r.path and (method is None or r.method == method)
        ]

    def accepted(self, module: str, method: str | None = None) -> list[Received]:
        """The pushes this platform took (answered 200 with status 1000)."""
        return [r for r in self.pushes(module, method) if r.accepted]

    # -- being called by the CPO ----------------------------------------------------

    def _build_app(self) -> FastAPI:
        app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
        state = self.state

        def authorized(request: Request, *, registration: bool = False) -> bool:
            token = _token_from(request.headers.get("Authorization"), self.version)
            if token is not None and token == state.token_from_cpo:
                return True
            return registration and token in state.tokens_a

        def denied() -> JSONResponse:
            return _reply(None, 2000, 401)

        # The spelling of the endpoints this platform serves at exactly what it advertises.
        slash = "/" if self.trailing_slash else ""

        def refused(received: Received, module: str, object_id: str | None) -> JSONResponse | None:
            """The answer of a push this platform refuses on purpose, if it does (recorded
            on ``received``)."""
            refusal = state.refusal(module, received.method, object_id)
            if refusal is None:
                return None
            received.http_status, received.status_code = refusal.http_status, refusal.status_code
            return _reply(None, refusal.status_code, refusal.http_status, refusal.message)

        @app.get("/ocpi/versions")
        async def versions(request: Request) -> JSONResponse:
            if not authorized(request, registration=True):
                return denied()
            version = self.version
            return _reply([{"version": version, "url": f"{self.base_url}/{version}"}])

        @app.get(f"/ocpi/{self.version}")
        async def details(request: Request) -> JSONResponse:
            if not authorized(request, registration=True):
                return denied()
            endpoints = (
                [
                    {
                        "identifier": "credentials",
                        "role": "SENDER",
                        "url": f"{self.base_url}/{self.version}/credentials",
                    }
                ]
                + [
                    {
                        "identifier": "tokens",
                        "role": "SENDER",
                        "url": f"{self.base_url}/emsp/{self.version}/tokens",
                    }
                ]
                + [
                    {
                        "identifier": module,
                        "role": "RECEIVER",
                        "url": f"{self.base_url}/emsp/{self.version}/{module}",
                    }
                    for module in RECEIVER_MODULES
                ]
            )
            endpoints = [e | {"url": e["url"] + slash} for e in endpoints]
            if self.version == "2.1.1":
                # No roles in 2.1.1 (and commands results go to the response_url).
                endpoints = [
                    {"identifier": e["identifier"], "url": e["url"]}
                    for e in endpoints
                    if e["identifier"] != "commands"
                ]
            return _reply({"version": self.version, "endpoints": endpoints})

        @app.post(f"/ocpi/{self.version}/credentials{slash}")
        async def credentials(request: Request) -> JSONResponse:
            token = _token_from(request.headers.get("Authorization"), self.version)
            if token not in state.tokens_a:
                return denied()
            state.tokens_a.discard(token)
            body = await request.json()
            state.token_to_cpo = body["token"]
            state.cpo_roles = body.get("roles") or [body]
            await self._fetch_endpoints(body["url"], body["token"])
            state.token_from_cpo = secrets.token_hex(16)
            return _reply(self.credentials(state.token_from_cpo))

        @app.put(f"/ocpi/{self.version}/credentials{slash}")
        async def update_credentials(request: Request) -> JSONResponse:
            if not authorized(request):
                return _reply(None, 2000, 405)
            body = await request.json()
            state.token_to_cpo = body["token"]
            await self._fetch_endpoints(body["url"], body["token"])
            state.token_from_cpo = secrets.token_hex(16)
            return _reply(self.credentials(state.token_from_cpo))

        @app.delete(f"/ocpi/{self.version}/credentials{slash}")
        async def delete_credentials(request: Request) -> JSONResponse:
            if not authorized(request):
                return _reply(None, 2000, 405)
            state.token_from_cpo = state.token_to_cpo = None
            return _reply()

        @app.post(f"/ocpi/emsp/{self.version}/tokens/{{uid}}/authorize")
        async def authorize(request: Request, uid: str) -> JSONResponse:
            if not authorized(request):
                return denied()
            raw = await request.body()
            state.received.append(
                Received(
                    "POST", request.url.path, dict(request.headers), json.loads(raw or b"null")
                )
            )
            self._changed.set()
            await asyncio.sleep(state.authorize_delay)
            if uid not in state.tokens:
                return _reply(None, 2004, 404)
            info = {"allowed": state.authorizations.get(uid, "ALLOWED"), "token": state.tokens[uid]}
            return _reply(info)

        @app.post(f"/ocpi/emsp/{self.version}/cdrs{slash}")
        async def receive_cdr(request: Request) -> JSONResponse:
            if not authorized(request):
                return denied()
            body = await request.json()
            received = Received("POST", request.url.path, dict(request.headers), body)
            failure = refused(received, "cdrs", body.get("id"))
            state.received.append(received)
            self._changed.set()
            if failure is not None:
                return failure
            state.cdrs.append(body)
            response = _reply()
            response.headers["Location"] = f"{self.base_url}/emsp/{self.version}/cdrs/{body['id']}"
            return response

        @app.api_route(
            f"/ocpi/emsp/{self.version}/{{module}}/{{rest:path}}",
            methods=["PUT", "PATCH", "POST", "DELETE"],
        )
        async def receive(request: Request, module: str, rest: str) -> JSONResponse:
            if not authorized(request):
                return denied()
            raw = await request.body()
            body = json.loads(raw) if raw else None
            await asyncio.sleep(state.push_delays.get(module, 0.0))
            received = Received(request.method, request.url.path, dict(request.headers), body)
            parts = rest.split("/")
            failure = refused(received, module, parts[2] if len(parts) > 2 else None)
            if failure is None and state.fail_next_pushes > 0:
                state.fail_next_pushes -= 1
                received.http_status, received.status_code = 500, 3000
                failure = _reply(None, 3000, 500)
            state.received.append(received)
            self._changed.set()
            if failure is not None:
                return failure
            if module == "locations":
                self._apply_location(request.method, parts, body or {})
            elif module == "commands":
                state.command_results[rest.rsplit("/", 1)[-1]] = body or {}
            elif module == "sessions":
                session = state.sessions.setdefault(rest.rsplit("/", 1)[-1], {})
                changes = dict(body or {})
                if request.method == "PUT":
                    session.clear()
                elif self.version != "2.1.1" and "charging_periods" in changes:
                    # A 2.2.1 PATCH appends its charging periods to the session's.
                    changes["charging_periods"] = (
                        session.get("charging_periods", []) + (changes["charging_periods"])
                    )
                session.update(changes)
            elif module == "tariffs":
                self._apply_tariff(request.method, parts, body)
            return _reply()

        return app

    def _apply_tariff(self, method: str, parts: list[str], body: Any) -> None:
        tariff_id = parts[2]
        if method == "DELETE":
            self.state.tariffs.pop(tariff_id, None)
        else:
            self.state.tariffs[tariff_id] = body

    def _apply_location(self, method: str, parts: list[str], body: dict[str, Any]) -> None:
        """Keep our copy of the CPO's locations as its pushes describe them."""
        _country, _party, location_id, *below = parts
        if not below:
            if method == "PUT":
                self.state.locations[location_id] = body
            else:
                self.state.locations.setdefault(location_id, {}).update(body)
            return
        location = self.state.locations.setdefault(location_id, {"evses": []})
        evses = location.setdefault("evses", [])
        evse = next((e for e in evses if e.get("uid") == below[0]), None)
        if evse is None:
            evse = {"uid": below[0]}
            evses.append(evse)
        if len(below) == 1:
            if method == "PUT":
                evse.clear()
                evse.update(body)
            else:
                evse.update(body)


async def run_hub(
    versions_url: str | None, token_a: str | None, port: int, version: str = VERSION
) -> None:
    """``cpo-sim hub``: start, register if asked (or print a token A), print pushes."""
    hub = HubSimulator(version=version)
    await hub.start(port=port)
    try:
        if versions_url and token_a:
            await hub.register_with(versions_url, token_a)
            print(f"registered with {versions_url}")
        else:
            print(f"versions URL: {hub.versions_url}\ntoken A: {hub.issue_token_a()}")
        seen = 0
        with contextlib.suppress(asyncio.CancelledError):
            while True:
                for received in hub.state.received[seen:]:
                    print(received.method, received.path, received.body)
                seen = len(hub.state.received)
                await asyncio.sleep(0.5)
    finally:
        await hub.stop()
