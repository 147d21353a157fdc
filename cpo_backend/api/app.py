"""The operator HTTP API: ``/api`` (key protected), ``/health``, ``/metrics`` and ``/docs``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.types import ASGIApp

import cpo_backend
from cpo_backend.api import (
    cdrs,
    commands,
    devicemodel,
    errors,
    locations,
    partners,
    stations,
    tariffs,
    tokens,
    transactions,
)
from cpo_backend.api.roaming import RoamingServices
from cpo_backend.api.security import require_api_key
from cpo_backend.api.services import ApiServices

# Module-level endpoints that find the services on the app: an endpoint defined inside
# create_api would close over them, and FastAPI caches endpoints by identity in a
# module-level cache, which would keep every back-end ever built in this process alive.
operations = APIRouter(tags=["operations"])


@operations.get("/health")
async def health(request: Request) -> JSONResponse:
    services: ApiServices = request.app.state.services
    report: dict[str, Any] = await services.health()
    healthy = report.get("status") == "ok"
    return JSONResponse(report, status_code=200 if healthy else 503)


@operations.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    services: ApiServices = request.app.state.services
    return Response(generate_latest(services.metrics), media_type=CONTENT_TYPE_LATEST)


def create_api(api_services: ApiServices, roaming: RoamingServices, ocpi: ASGIApp) -> FastAPI:
    """The whole HTTP side, given everything it serves: the operator API on
    ``api_services`` and ``roaming``, and the OCPI interface's ``ocpi`` app at ``/ocpi``."""
    app = FastAPI(
        title="cpo-backend operator API",
        version=cpo_backend.__version__,
        description="Stations, id tokens, transactions, OCPP message log and commands.",
    )
    app.state.services = api_services
    app.state.roaming = roaming
    errors.install(app)

    api = APIRouter(
        prefix="/api",
        dependencies=[Depends(require_api_key)],
        # Every route may answer these, with the one error body (see api/errors.py).
        responses=errors.ERROR_RESPONSES,
    )
    modules = (stations, commands, tokens, transactions, devicemodel)
    for module in (*modules, partners, locations, tariffs, cdrs):
        api.include_router(module.router)
    app.include_router(api)
    app.include_router(operations)
    app.mount("/ocpi", ocpi)
    return app
