"""GET lists of objects that belong to one partner (its sessions, its CDRs)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from sqlalchemy import Select

from cpo_backend.domain.paging import fetch_page, updated_window
from cpo_backend.ocpi.auth import Context, calling_partner
from cpo_backend.ocpi.context import OcpiContext
from cpo_backend.ocpi.transport.envelope import OcpiError, OcpiResponse, StatusCode
from cpo_backend.ocpi.transport.pagination import Page, PageRequest, list_response, page_request

# Renders one page of rows (all at once, so that what they refer to is read once).
RenderPage = Callable[[list[Any], OcpiContext], Awaitable[list[Any]]]


def owned_router(
    prefix: str,
    table: Any,
    order: tuple[Any, ...],
    render: RenderPage,
    caller: Any,
    *,
    date_from_required: bool = False,
) -> APIRouter:
    """A Sender GET list of ``table``: the calling partner's rows, in ``order`` (columns);
    ``caller`` is the version's auth dependency. Sessions lists require ``date_from``."""
    router = APIRouter(prefix=prefix, dependencies=[Depends(caller)])

    @router.get("")
    async def list_owned(
        request: Request, ctx: Context, page: Annotated[PageRequest, Depends(page_request)]
    ) -> OcpiResponse:
        if date_from_required and page.date_from is None:
            raise OcpiError(StatusCode.INVALID_PARAMETERS, "date_from is required")
        partner_id = calling_partner(request).partner.id
        return await owned_list(
            request, ctx, page, table, partner_id, order, lambda rows: render(rows, ctx)
        )

    return router


async def owned_list(
    request: Request,
    ctx: OcpiContext,
    page: PageRequest,
    table: Any,
    partner_id: int,
    order: tuple[Any, ...],
    render: Callable[[list[Any]], Awaitable[list[Any]]],
) -> OcpiResponse:
    """``table``'s rows of ``partner_id`` in the page's ``last_updated`` window, in
    creation ``order``."""
    query: Select[Any] = table.__table__.select().where(
        table.partner_id == partner_id,
        *updated_window(table.last_updated, page.date_from, page.date_to),
    )

    async def fetch(offset: int, limit: int) -> Page:
        async with ctx.db.read() as conn:
            rows, total = await fetch_page(conn, query, order, offset, limit)
        return Page(await render(list(rows)), total)

    return await list_response(request, ctx.public_url, page, ctx.settings.page_limit, fetch)
