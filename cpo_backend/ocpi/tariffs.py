"""The tariffs module, Sender interface: our tariffs, as the pricing engine renders them.

One router per OCPI version: they differ in how the list is made only. Both serve the
tariffs as published (:func:`cpo_backend.roaming.tariffs.as_tariff`): with the AFIR price
text in the configured languages.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from cpo_backend.ocpi.auth import Context, module_caller
from cpo_backend.ocpi.catalogue import catalogue_list
from cpo_backend.ocpi.context import OcpiContext
from cpo_backend.ocpi.transport.envelope import OcpiResponse
from cpo_backend.ocpi.transport.pagination import PageRequest, page_request
from cpo_backend.pricing import render_tariff

# The GET list of one version, for the request's page.
Lister = Callable[[Request, OcpiContext, PageRequest], Awaitable[OcpiResponse]]


def tariffs_router(lister: Lister, caller: Any) -> APIRouter:
    router = APIRouter(prefix="/tariffs", dependencies=[Depends(caller)])

    @router.get("")
    async def list_tariffs(
        request: Request, ctx: Context, page: Annotated[PageRequest, Depends(page_request)]
    ) -> OcpiResponse:
        return await lister(request, ctx, page)

    return router


async def list_tariffs(request: Request, ctx: OcpiContext, page: PageRequest) -> OcpiResponse:
    """2.2.1 expresses every tariff we store, so it pages in SQL."""
    published = partial(ctx.tariffs.page, alt_text_languages=ctx.settings.tariff_alt_text_languages)
    return await catalogue_list(request, ctx, page, published, render_tariff)


router = tariffs_router(list_tariffs, module_caller)
