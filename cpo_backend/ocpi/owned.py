"""GET lists of objects that belong to one partner (its sessions, its CDRs)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from sqlalchemy import Select

from cpo_backend.domain.paging import fetch_page, updated_window
from cpo_backend.ocpi.auth import Context, ModuleCaller
from cpo_backend.ocpi.context import OcpiContext
from cpo_backend.ocpi.transport.envelope import OcpiResponse
from cpo_backend.ocpi.transport.pagination import Page, PageRequest, list_response, page_request


def owned_router(
    prefix: str, table: Any, order: Any, render: Callable[[Any, OcpiContext], Any]
) -> APIRouter:
    """A Sender GET list of ``table``: the calling partner's rows, in ``order``."""
    router = APIRouter(prefix=prefix)

    @router.get("")
    async def list_owned(
        request: Request,
        ctx: Context,
        caller: ModuleCaller,
        page: Annotated[PageRequest, Depends(page_request)],
    ) -> OcpiResponse:
        return await owned_list(
            request, ctx, page, table, caller.partner.id, order, lambda row: render(row, ctx)
        )

    return router


async def owned_list(
    request: Request,
    ctx: OcpiContext,
    page: PageRequest,
    table: Any,
    partner_id: int,
    order: Any,
    render: Callable[[Any], Any],
) -> OcpiResponse:
    """``table``'s rows of ``partner_id`` in the page's ``last_updated`` window, in
    creation ``order``."""
    query: Select[Any] = table.__table__.select().where(
        table.partner_id == partner_id,
        *updated_window(table.last_updated, page.date_from, page.date_to),
    )

    async def fetch(offset: int, limit: int) -> Page:
        async with ctx.db.read() as conn:
            rows, total = await fetch_page(conn, query, (order,), offset, limit)
        return Page([render(row) for row in rows], total)

    return await list_response(request, ctx.public_url, page, ctx.settings.page_limit, fetch)
