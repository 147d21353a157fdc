"""The OCPI side assembled: the ASGI app mounted at ``/ocpi``, the outbox and the client.

The composition root builds it in two parts, in dependency order. First
:class:`PartnerCalls`, our client to the partners and the real-time authorizer: the
domain's token service asks that authorizer about a partner's token. Then, once the
domain's transactions and commands exist (they need the token service), one
:class:`OcpiInterface` over it; the root mounts its :attr:`~OcpiInterface.asgi` and calls
:meth:`~OcpiInterface.start` / :meth:`~OcpiInterface.stop`. Everything OCPI is
reachable from here and nowhere else.
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
from cpo_backend.ocpi.context import (
    VERSION,
    VERSION_211,
    AuthorizationReferences,
    DomainServices,
    OcpiContext,
    PartnerHeard,
)
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
from cpo_backend.roaming.address import PublicAddress
from cpo_backend.roaming.locations import LocationService
from cpo_backend.roaming.partners import PartnerService

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


def create_ocpi_app(ctx: OcpiContext, runner: CommandRunner, heard: PartnerHeard) -> FastAPI:
    """The routes find what they serve on ``app.state``, set here once (the routers are
    module-level, so that FastAPI's endpoint cache keeps no back-end alive)."""
    app = FastAPI(title="cpo-backend OCPI 2.2.1", openapi_url=None, docs_url=None, redoc_url=None)
    app.state.ocpi = ctx
    app.state.command_runner = runner
    app.state.partner_heard = heard
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


class PartnerCalls:
    """Our HTTP client to the partners, and the real-time authorizer that calls through it.

    Built before the domain's token service: the partner tokens' whitelist rules, which
    that service asks, are given :attr:`realtime`. The :class:`OcpiInterface` built later
    sends everything else through the same :attr:`client`, and closes it.
    """

    def __init__(
        self, settings: OcpiSettings, partners: PartnerService, locations: LocationService
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
        self.client = OcpiClient(self._http, Party(settings.country_code, settings.party_id))
        # Written by real-time authorizations, taken by the sessions their starts make.
        self.authorization_references: AuthorizationReferences = {}
        self.realtime = OcpiRealtimeAuthorizer(
            settings, partners, locations, self.client, self.authorization_references
        )

    async def close(self) -> None:
        for pool in self._http:
            await pool.aclose()


class OcpiInterface:
    def __init__(
        self,
        settings: OcpiSettings,
        db: Database,
        events: EventBus,
        services: DomainServices,
        calls: PartnerCalls,
        address: PublicAddress,
        command_timeout: float,
    ) -> None:
        self._calls = calls
        self.context = OcpiContext(
            settings,
            db,
            services.partners,
            services.locations,
            services.tariffs,
            services.partner_tokens,
            services.transactions,
            command_timeout,
            calls.client,
            address,
            calls.authorization_references,
        )
        self.registrar = OcpiRegistrar(self.context)
        self.outbox = OutboxWorker(db, self.context, {"cdrs": cdrs.keep_cdr_location})
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
        app = create_ocpi_app(self.context, self.commands, self.outbox.partner_heard)
        # Outside the app's own error middleware, so that even a 500 carries the ids.
        self.asgi = MessageIdMiddleware(app)

    def _projected(self) -> None:
        self.cdrs.wake()
        self.outbox.wake()

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
        await self._calls.close()
