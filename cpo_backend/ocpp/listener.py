"""The OCPP websocket listener: handshake checks, then one :class:`OcppConnection` each.

Everything that can be refused is refused at the HTTP handshake, with a status code the
charger's installer can read in its logs: no supported subprotocol (400), an unknown
station under the ``reject`` policy (404), missing or wrong credentials (401). A charger
is never accepted and then dropped for a reason known at the handshake.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import ssl
import weakref
from collections.abc import Sequence
from http import HTTPStatus
from urllib.parse import unquote, urlsplit

import structlog
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

from cpo_backend.config import OcppSettings, UnknownStationPolicy
from cpo_backend.domain.model import Registration
from cpo_backend.domain.stations import identity_problem, verify_password
from cpo_backend.ocpp.binding import OcppServices, ProtocolBinding, StationSession
from cpo_backend.ocpp.connection import OcppConnection
from cpo_backend.ocpp.observer import FrameRecorder, OcppMetrics
from cpo_backend.ocpp.registry import ConnectionRegistry
from cpo_backend.ocpp.routing import collect_routes

log = structlog.get_logger(__name__)


def station_id_from_path(path: str) -> str:
    """The charge point id is the last path segment: ``/ocpp/CP_1`` -> ``CP_1``."""
    return unquote(urlsplit(path).path.rstrip("/").rsplit("/", 1)[-1])


def basic_credentials(headers: Headers) -> tuple[str, str] | None:
    value = headers.get("Authorization")
    if value is None or not value.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(value[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    username, separator, password = decoded.partition(":")
    return (username, password) if separator else None


class OcppListener:
    def __init__(
        self,
        settings: OcppSettings,
        services: OcppServices,
        registry: ConnectionRegistry,
        bindings: Sequence[ProtocolBinding],
        recorder: FrameRecorder,
        metrics: OcppMetrics,
    ) -> None:
        self._settings = settings
        self._services = services
        self._registry = registry
        # Preference order: the first binding a charger offers wins.
        self._bindings = {binding.version.subprotocol: binding for binding in bindings}
        self._recorder = recorder
        self._metrics = metrics
        self._server: Server | None = None
        self._closing: set[asyncio.Task[None]] = set()
        # What the handshake decided, for the connection handler that follows it.
        self._registrations: weakref.WeakKeyDictionary[ServerConnection, Registration] = (
            weakref.WeakKeyDictionary()
        )

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("listener not started")
        sockets = list(self._server.sockets)
        return int(sockets[0].getsockname()[1])

    async def start(self) -> None:
        self._server = await serve(
            self._handle,
            self._settings.host,
            self._settings.port,
            subprotocols=[Subprotocol(name) for name in self._bindings],
            select_subprotocol=self._select_subprotocol,
            process_request=self._check_handshake,
            ping_interval=self._settings.ping_interval,
            ping_timeout=self._settings.ping_timeout,
            max_size=self._settings.max_message_size,
            compression="deflate" if self._settings.compression else None,
            ssl=self._ssl_context(),
            server_header="cpo-backend",
        )
        log.info("ocpp listener started", host=self._settings.host, port=self.port)

    async def stop(self) -> None:
        """Close every connection with a close frame (1001 going away), then the socket."""
        if self._server is None:
            return
        self._server.close(close_connections=True)
        await self._server.wait_closed()
        self._server = None

    def _ssl_context(self) -> ssl.SSLContext | None:
        if self._settings.tls_cert is None:
            return None
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self._settings.tls_cert, self._settings.tls_key)
        return context

    def _select_subprotocol(
        self, _connection: ServerConnection, offered: Sequence[Subprotocol]
    ) -> Subprotocol | None:
        for name in self._bindings:
            if name in offered:
                return Subprotocol(name)
        return None

    async def _check_handshake(
        self, connection: ServerConnection, request: Request
    ) -> Response | None:
        station_id = station_id_from_path(request.path)
        if not station_id:
            return _refuse(connection, HTTPStatus.NOT_FOUND, "no charge point id in the path")
        problem = identity_problem(station_id)
        if problem is not None:
            # Refused before anything is looked up or stored; the id is shown escaped.
            log.warning("station identity refused", station=repr(station_id[:64]))
            return _refuse(connection, HTTPStatus.BAD_REQUEST, problem)
        offered = {
            item.strip()
            for value in request.headers.get_all("Sec-WebSocket-Protocol")
            for item in value.split(",")
        }
        if not offered & self._bindings.keys():
            supported = ", ".join(self._bindings)
            return _refuse(
                connection,
                HTTPStatus.BAD_REQUEST,
                f"no supported OCPP subprotocol offered; this central system speaks {supported}",
            )
        stations = self._services.stations
        view = await stations.handshake_view(station_id)
        if view is None:
            policy = self._settings.unknown_stations
            if policy == UnknownStationPolicy.REJECT:
                log.warning("unknown station refused", station=station_id)
                return _refuse(
                    connection, HTTPStatus.NOT_FOUND, f"unknown charge point {station_id}"
                )
            registration = (
                Registration.ACCEPTED
                if policy == UnknownStationPolicy.ACCEPT
                else Registration.PENDING
            )
            await stations.auto_register(station_id, registration)
            self._registrations[connection] = registration
            return None
        if view.password_hash is not None:
            credentials = basic_credentials(request.headers)
            if (
                credentials is None
                or credentials[0] != station_id
                or not verify_password(credentials[1], view.password_hash)
            ):
                log.warning("station failed authentication", station=station_id)
                response = _refuse(connection, HTTPStatus.UNAUTHORIZED, "invalid credentials")
                response.headers["WWW-Authenticate"] = 'Basic realm="ocpp", charset="UTF-8"'
                return response
        self._registrations[connection] = view.registration
        return None

    async def _handle(self, websocket: ServerConnection) -> None:
        registration = self._registrations.pop(websocket, Registration.PENDING)
        binding = self._bindings.get(websocket.subprotocol or "")
        if binding is None:  # select_subprotocol guarantees one; be defensive anyway
            await websocket.close(1002, "no OCPP subprotocol")
            return
        station_id = station_id_from_path(websocket.request.path if websocket.request else "")
        stations = self._services.stations
        session = StationSession(station_id, registration, self._services)
        connection = OcppConnection(
            websocket,
            station_id,
            binding.version,
            collect_routes(binding.handlers(session)),
            self._recorder,
            response_timeout=self._settings.response_timeout,
            on_traffic=lambda: stations.seen(station_id),
            after_reply=session.after_reply,
            triggered=session.triggered,
        )
        previous = self._registry.add(connection)
        if previous is not None:
            log.info("connection replaced", station=station_id)
            closing = asyncio.create_task(previous.close("replaced by a new connection"))
            self._closing.add(closing)
            closing.add_done_callback(self._closing.discard)
        else:
            self._metrics.connected.inc()
        log.info("station connected", station=station_id, protocol=binding.version.name)
        await stations.connected(station_id, binding.version.name)
        try:
            await connection.serve()
        finally:
            if self._registry.remove(connection):
                self._metrics.connected.dec()
                log.info("station disconnected", station=station_id)
                await stations.disconnected(station_id)


def _refuse(connection: ServerConnection, status: HTTPStatus, reason: str) -> Response:
    return connection.respond(status, reason + "\n")
