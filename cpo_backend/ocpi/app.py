"""The OCPI side assembled: the ASGI app mounted at ``/ocpi``, the outbox and the client.

The composition root builds one :class:`OcpiInterface`, mounts :attr:`asgi` and calls
:meth:`start` / :meth:`stop`; everything OCPI is reachable from here and nowhere else.
"""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from cpo_backend.config import OcpiSettings
from cpo_backend.db.database import Database
from cpo_backend.db.projection import HandlerProjector, ProjectorRunner
from cpo_backend.domain.events import EventBus, EvseStatusChanged, LocationChanged, TariffChanged
from cpo_backend.ocpi import (
    cdrs,
    commands,
    credentials,
    hubclientinfo,
    locations,
    sessions,
    tariffs,
    tokens,
)
from cpo_backend.ocpi.command_results import CommandRunner
from cpo_backend.ocpi.context import VERSION, VERSION_211, DomainServices, OcpiContext
from cpo_backend.ocpi.context import credentials_211 as to_211
from cpo_backend.ocpi.outbox import PARALLEL as OUTBOX_PARALLEL
from cpo_backend.ocpi.outbox import OutboxRecorder, OutboxWorker
from cpo_backend.ocpi.realtime import OcpiRealtimeAuthorizer
from cpo_backend.ocpi.registration import Credentials211, OcpiRegistrar
from cpo_backend.ocpi.transport import errors
from cpo_backend.ocpi.transport.client import POOL_SIZE, OcpiClient
from cpo_backend.ocpi.transport.headers import MessageIdMiddleware, Party
from cpo_backend.ocpi.v211 import commands as v211_commands
from cpo_backend.ocpi.v211 import locations as v211_locations
from cpo_backend.ocpi.v211 import tariffs as v211_tariffs
from cpo_backend.ocpi.v211 import tokens as v211_tokens
from cpo_backend.ocpi.versions import versions_router

# (identifier, our interface role) of every module served: version details lists these.
MODULES: tuple[tuple[str, str], ...] = (
    ("credentials", "SENDER"),
    ("locations", "SENDER"),
    ("tariffs", "SENDER"),
    ("tokens", "RECEIVER"),
    ("commands", "RECEIVER"),
    ("sessions", "SENDER"),
    ("cdrs", "SENDER"),
    ("hubclientinfo", "RECEIVER"),
)


# 2.1.1 has every module but hubclientinfo (its endpoints carry no role).
MODULES_211 = tuple(module for module in MODULES if module[0] != "hubclientinfo")


def create_ocpi_app(ctx: OcpiContext) -> FastAPI:
    app = FastAPI(title="cpo-backend OCPI 2.2.1", openapi_url=None, docs_url=None, redoc_url=None)
    app.state.ocpi = ctx
    errors.install(app)
    app.include_router(versions_router({VERSION: MODULES, VERSION_211: MODULES_211}))
    app.include_router(credentials.router, prefix=f"/{VERSION}")
    app.include_router(locations.router, prefix=f"/{VERSION}")
    app.include_router(tariffs.router, prefix=f"/{VERSION}")
    app.include_router(tokens.router, prefix=f"/{VERSION}")
    app.include_router(commands.router, prefix=f"/{VERSION}")
    app.include_router(sessions.router, prefix=f"/{VERSION}")
    app.include_router(cdrs.router, prefix=f"/{VERSION}")
    app.include_router(hubclientinfo.router, prefix=f"/{VERSION}")
    credentials_211 = credentials.credentials_router(VERSION_211, Credentials211, to_211)
    for router in (
        credentials_211,
        v211_locations.router,
        v211_tariffs.router,
        v211_tokens.router,
        v211_commands.router,
        sessions.router_211,
        cdrs.router_211,
    ):
        app.include_router(router, prefix=f"/{VERSION_211}")
    return app


class OcpiInterface:
    def __init__(
        self,
        settings: OcpiSettings,
        db: Database,
        events: EventBus,
        services: DomainServices,
        command_timeout: float,
    ) -> None:
        # As many kept-alive connections as the outbox has deliveries under way (with
        # httpx's default of 20, pushes to one hub above that opened and closed a
        # connection each), in pools of POOL_SIZE: see ``OcpiClient``.
        self._http = [
            httpx.AsyncClient(
                timeout=settings.request_timeout,
                limits=httpx.Limits(max_connections=POOL_SIZE, max_keepalive_connections=POOL_SIZE),
            )
            for _ in range(max(1, OUTBOX_PARALLEL // POOL_SIZE))
        ]
        self.context = OcpiContext(
            settings,
            db,
            services.partners,
            services.locations,
            services.tariffs,
            services.partner_tokens,
            services.transactions,
            command_timeout,
            OcpiClient(self._http, Party(settings.country_code, settings.party_id)),
        )
        if settings.public_url:
            self.context.public_url = settings.public_url
        self.registrar = OcpiRegistrar(self.context)
        services.partner_tokens.realtime = OcpiRealtimeAuthorizer(self.context)
        self.outbox = OutboxWorker(db, self.context, {"cdrs": cdrs.keep_cdr_location})
        self.context.partner_heard = self.outbox.partner_heard
        self.cdrs = cdrs.CdrSealer(self.context, self.outbox)
        session_projector = sessions.SessionProjector(self.context, self.cdrs)
        self.commands = CommandRunner(
            db, services.commands, self.outbox, {"START_SESSION": session_projector.announce}
        )
        poll = settings.outbox_poll_interval
        # The projectors of the event log: what they write wakes whoever delivers it.
        self.projectors = [
            ProjectorRunner(db, session_projector, poll, self._projected),
            ProjectorRunner(
                db,
                HandlerProjector(
                    "catalogue-pushes",
                    (LocationChanged, EvseStatusChanged, TariffChanged),
                    OutboxRecorder(self.context).on_event,
                ),
                poll,
                self.outbox.wake,
            ),
        ]
        for runner in self.projectors:
            events.subscribe(runner.notify)
        events.subscribe(self.outbox.notify)
        self.session_updates = sessions.SessionUpdater(self.context, self.outbox)
        events.subscribe(self.session_updates.notify)
        app = create_ocpi_app(self.context)
        app.state.command_runner = self.commands
        # Outside the app's own error middleware, so that even a 500 carries the ids.
        self.asgi = MessageIdMiddleware(app)

    def _projected(self) -> None:
        self.cdrs.wake()
        self.outbox.wake()

    def listening_on(self, host: str, port: int) -> None:
        """Our public URL when none is configured: the address the listener is bound to."""
        if not self.context.settings.public_url:
            shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
            self.context.public_url = f"http://{shown}:{port}"

    async def start(self) -> None:
        await self.commands.recover()
        await self.outbox.start()
        await self.cdrs.start()
        await self.session_updates.start()
        for runner in self.projectors:
            await runner.start()

    async def stop(self) -> None:
        await self.commands.stop()
        for runner in self.projectors:
            await runner.stop()
        await self.session_updates.stop()
        await self.cdrs.stop()
        await self.outbox.stop()
        for pool in self._http:
            await pool.aclose()
