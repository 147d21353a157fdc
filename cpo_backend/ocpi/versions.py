"""The versions module: which OCPI versions we speak and, per version, our endpoints."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import APIRouter

from cpo_backend.ocpi.auth import ConfigurationCaller, Context
from cpo_backend.ocpi.context import OcpiContext
from cpo_backend.ocpi.transport.envelope import OcpiResponse, ocpi_response

# 2.1.1 endpoints have no interface role: a module is simply there or not.
ROLELESS_VERSIONS = frozenset({"2.1.1"})


def _endpoints(
    ctx: OcpiContext, version: str, modules: Sequence[tuple[str, str]]
) -> list[dict[str, Any]]:
    endpoints = []
    for identifier, role in modules:
        endpoint = {"identifier": identifier, "url": ctx.module_url(identifier, version)}
        if version not in ROLELESS_VERSIONS:
            endpoint["role"] = role
        endpoints.append(endpoint)
    return endpoints


def versions_router(versions: Mapping[str, Sequence[tuple[str, str]]]) -> APIRouter:
    """``versions``: per version, (identifier, interface role) of every module it serves."""
    router = APIRouter()

    @router.get("/versions")
    async def list_versions(ctx: Context, _caller: ConfigurationCaller) -> OcpiResponse:
        return ocpi_response([{"version": v, "url": ctx.version_url(v)} for v in versions])

    for version, modules in versions.items():
        router.add_api_route(f"/{version}", _details(version, modules), methods=["GET"])
    return router


def _details(version: str, modules: Sequence[tuple[str, str]]) -> Any:
    async def version_details(ctx: Context, _caller: ConfigurationCaller) -> OcpiResponse:
        return ocpi_response({"version": version, "endpoints": _endpoints(ctx, version, modules)})

    return version_details
