"""The composition root: builds every part of one back-end process and runs them together.

Nothing else lives here. Order matters at both ends: the database (migrated) before the
listeners, and on the way down the listeners first, so that the connections' last
writes (a station going offline) still reach a running writer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from typing import Any

import structlog
import uvicorn
from prometheus_client import CollectorRegistry
from sqlalchemy import text

from cpo_backend.api.app import create_api
from cpo_backend.api.roaming import RoamingServices
from cpo_backend.api.services import ApiServices
from cpo_backend.config import Settings
from cpo_backend.db.database import Database
from cpo_backend.db.migrate import upgrade_async
from cpo_backend.db.projection import HandlerProjector, ProjectorRunner
from cpo_backend.domain.commands import CommandService
from cpo_backend.domain.devicemodel import DeviceModelService
from cpo_backend.domain.events import (
    ConnectorStatusChanged,
    EventBus,
    StationConnected,
    StationDisconnected,
)
from cpo_backend.domain.messagelog import MessageLog
from cpo_backend.domain.stations import StationService
from cpo_backend.domain.tokens import TokenService
from cpo_backend.domain.transactions import TransactionService
from cpo_backend.domain.txevents import TransactionEventService
from cpo_backend.ocpi.app import OcpiInterface, PartnerCalls
from cpo_backend.ocpi.context import DomainServices
from cpo_backend.ocpp.binding import OcppServices, ProtocolBinding
from cpo_backend.ocpp.dispatch import LocalCommandTransport
from cpo_backend.ocpp.listener import OcppListener
from cpo_backend.ocpp.observer import FrameRecorder, OcppMetrics
from cpo_backend.ocpp.registry import ConnectionRegistry
from cpo_backend.ocpp.v16 import Ocpp16Binding
from cpo_backend.ocpp.v16 import commands as v16_commands
from cpo_backend.ocpp.v201 import Ocpp201Binding
from cpo_backend.ocpp.v201 import commands as v201_commands
from cpo_backend.ocpp.v201.handlers import Ocpp201Services
from cpo_backend.roaming.address import PublicAddress
from cpo_backend.roaming.locations import LocationService
from cpo_backend.roaming.partner_tokens import PartnerTokenService
from cpo_backend.roaming.partners import PartnerService
from cpo_backend.roaming.tariffs import TariffService

log = structlog.get_logger(__name__)

LAST_SEEN_FLUSH_SECONDS = 15.0
# How often the EVSE status projector looks at the log when no commit woke it.
EVSE_STATUS_POLL_SECONDS = 1.0


class _EmbeddedServer(uvicorn.Server):
    """uvicorn inside our loop: it must not take over SIGINT/SIGTERM, the CLI owns them."""

    @contextlib.contextmanager
    def capture_signals(self) -> Any:
        yield


class CpoBackend:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.events = EventBus()
        self.metrics = CollectorRegistry()
        self.db = Database(
            settings.database.url,
            self.events,
            self.metrics,
            max_batch=settings.database.max_batch,
            echo=settings.database.echo,
        )
        self.stations = StationService(self.db)
        self.partners = PartnerService(self.db)
        self.locations = LocationService(self.db)
        self.tariffs = TariffService(self.db, settings.ocpi.country_code, settings.ocpi.party_id)
        # Where partners reach us: told the HTTP listener's address once it is bound.
        self.public_address = PublicAddress(settings.ocpi.public_url)
        # Tokens the operator does not know are asked of the roaming partners' tokens, and
        # an eMSP may be asked in real time: OCPI's calls to the partners come first.
        self.partner_calls = PartnerCalls(settings.ocpi, self.partners, self.locations)
        self.partner_tokens = PartnerTokenService(self.db, self.partner_calls.realtime)
        self.tokens = TokenService(self.db, self.partner_tokens)
        self.transactions = TransactionService(self.db, self.tokens, self.events)
        self.message_log = MessageLog(self.db)
        self.registry = ConnectionRegistry()
        self.device_model = DeviceModelService(self.db)
        self.commands = CommandService(
            LocalCommandTransport(
                self.registry,
                {"1.6": v16_commands, "2.0.1": v201_commands},
                settings.ocpp.response_timeout,
            ),
            self.transactions,
            result_listeners=(self.device_model.on_command_result,),
        )
        v201 = Ocpp201Services(
            self.device_model,
            TransactionEventService(self.db, self.transactions, self.tokens, self.events),
            self.commands,
        )
        # Preference order: a charger offering both versions speaks 2.0.1.
        bindings: list[ProtocolBinding] = [Ocpp201Binding(v201), Ocpp16Binding()]
        ocpp_metrics = OcppMetrics(self.metrics)
        self.ocpp = OcppListener(
            settings.ocpp,
            OcppServices(self.stations, self.tokens, self.transactions, settings.ocpp),
            self.registry,
            bindings,
            FrameRecorder(
                self.message_log if settings.ocpp.log_messages else None,
                ocpp_metrics,
                log_frames=logging.getLevelName(settings.logging.level.upper()) <= logging.INFO,
                redact_id_tokens=settings.logging.redact_id_tokens,
            ),
            ocpp_metrics,
        )
        # EVSE statuses follow the chargers' reports, projected from the event log.
        self.evse_statuses = ProjectorRunner(
            self.db,
            HandlerProjector(
                "evse-statuses",
                (ConnectorStatusChanged, StationConnected, StationDisconnected),
                self.locations.on_event,
            ),
            EVSE_STATUS_POLL_SECONDS,
        )
        self.events.subscribe(self.evse_statuses.notify)
        self.roaming = OcpiInterface(
            settings.ocpi,
            self.db,
            self.events,
            DomainServices(
                self.partners,
                self.locations,
                self.tariffs,
                self.partner_tokens,
                self.transactions,
                self.commands,
            ),
            self.partner_calls,
            self.public_address,
            settings.ocpp.response_timeout,
        )
        self.api = create_api(
            ApiServices(
                stations=self.stations,
                tokens=self.tokens,
                transactions=self.transactions,
                commands=self.commands,
                device_models=self.device_model,
                message_log=self.message_log,
                metrics=self.metrics,
                health=self.health,
                api_keys=frozenset(settings.http.api_keys),
            ),
            RoamingServices(
                self.partners,
                self.locations,
                self.tariffs,
                self.roaming.registrar,
                self.roaming.cdrs,
                self.public_address,
            ),
            self.roaming.asgi,
        )
        # Outbox backlog, oldest age and dead letters per partner, on /metrics.
        self.metrics.register(self.roaming.outbox.gauges)
        self._http: _EmbeddedServer | None = None
        self._http_task: asyncio.Task[None] | None = None
        self._http_socket: socket.socket | None = None
        self._background: list[asyncio.Task[None]] = []

    @property
    def ocpp_port(self) -> int:
        return self.ocpp.port

    @property
    def http_port(self) -> int:
        if self._http_socket is None:
            raise RuntimeError("HTTP server not started")
        return int(self._http_socket.getsockname()[1])

    async def start(self) -> None:
        await upgrade_async(self.settings.database.url)
        await self.db.start()
        await self.stations.mark_all_offline()
        await self.locations.resync_statuses()
        await self.evse_statuses.start()
        self._background.append(
            asyncio.create_task(self.stations.run_last_seen_flusher(LAST_SEEN_FLUSH_SECONDS))
        )
        if self.settings.ocpp.message_log_retention_days:
            self._background.append(
                asyncio.create_task(
                    self.message_log.run_retention(self.settings.ocpp.message_log_retention_days)
                )
            )
        await self.ocpp.start()
        await self._start_http()
        await self.roaming.start()
        if not self.settings.http.api_keys:
            log.warning("the operator API has no API key configured: it is open to anyone")
        log.info("cpo-backend started", ocpp_port=self.ocpp_port, http_port=self.http_port)

    async def _start_http(self) -> None:
        http = self.settings.http
        config = uvicorn.Config(
            self.api, host=http.host, port=http.port, log_config=None, lifespan="off"
        )
        self._http_socket = config.bind_socket()
        # Known before the first request: the OCPI objects served carry our URL.
        self.public_address.listening_on(http.host, self.http_port)
        self._http = _EmbeddedServer(config)
        self._http_task = asyncio.create_task(self._http.serve(sockets=[self._http_socket]))
        while not self._http.started:
            if self._http_task.done():
                await self._http_task  # surfaces the start-up error
                raise RuntimeError("HTTP server stopped during start-up")
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        """Close connections (with close frames), then HTTP, then flush and close the database.

        Open transactions stay open in the database: chargers keep charging while we are
        away and report the stop when they reconnect.
        """
        await self.ocpp.stop()
        if self._http is not None and self._http_task is not None:
            self._http.should_exit = True
            await self._http_task
            self._http = None
        await self.roaming.stop()
        await self.evse_statuses.stop()
        for task in self._background:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._background.clear()
        await self.stations.flush_last_seen()
        await self.db.close()
        log.info("cpo-backend stopped")

    async def health(self) -> dict[str, Any]:
        try:
            await self.db.fetch_one(text("SELECT 1"))
            database = "ok"
        except Exception as error:  # the report must come back whatever failed
            database = f"error: {type(error).__name__}"
        return {
            "status": "ok" if database == "ok" else "degraded",
            "database": database,
            "connected_stations": len(self.registry),
        }
