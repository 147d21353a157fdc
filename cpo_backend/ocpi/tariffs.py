"""The tariffs module, Sender interface: our tariffs, as the pricing engine renders them.

One router per OCPI version: they differ in the rendering only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from cpo_backend.ocpi.auth import Context, module_caller
from cpo_backend.ocpi.catalogue import catalogue_list
from cpo_backend.ocpi.transport.envelope import OcpiResponse
from cpo_backend.ocpi.transport.pagination import PageRequest, page_request
from cpo_backend.pricing import Tariff, render_tariff

# A tariff as JSON, or None for one this version cannot express (left out of the list).
Render = Callable[[Tariff], dict[str, Any] | None]


def tariffs_router(render: Render, caller: Any) -> APIRouter:
    router = APIRouter(prefix="/tariffs", dependencies=[Depends(caller)])

    @router.get("")
    async def list_tariffs(
        request: Request, ctx: Context, page: Annotated[PageRequest, Depends(page_request)]
    ) -> OcpiResponse:
        return await catalogue_list(request, ctx, page, ctx.tariffs.page, render)

    return router


router = tariffs_router(render_tariff, module_caller)
