"""GET lists of our own catalogue (locations, tariffs): the same objects for every partner,
in each version's shape.

Two ways to page: in SQL (:func:`catalogue_list`), when every stored object has a form in
the version; over the whole rendered list (:func:`rendered_list`), when a version cannot
express some of them. Dropping those after SQL cut the page would return short pages, repeat
objects on the next one and count in ``X-Total-Count`` objects the partner never receives.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Protocol, TypeVar

from fastapi import Request

from cpo_backend.ocpi.context import OcpiContext
from cpo_backend.ocpi.transport.envelope import OcpiResponse
from cpo_backend.ocpi.transport.pagination import Page, PageRequest, list_response

Item = TypeVar("Item", covariant=True)


class Pager(Protocol[Item]):
    """A domain service's ``page``: one page in creation order, and how many match."""

    async def __call__(
        self,
        *,
        offset: int,
        limit: int,
        updated_from: datetime | None,
        updated_to: datetime | None,
    ) -> tuple[Sequence[Item], int]: ...


async def catalogue_list(
    request: Request,
    ctx: OcpiContext,
    page: PageRequest,
    pager: Pager[Item],
    render: Callable[[Item], dict[str, Any]],
) -> OcpiResponse:
    """Paged in SQL: ``render`` must give every object a form."""

    async def fetch(offset: int, limit: int) -> Page:
        items, total = await pager(
            offset=offset, limit=limit, updated_from=page.date_from, updated_to=page.date_to
        )
        return Page([render(item) for item in items], total)

    return await list_response(request, ctx.public_url, page, ctx.settings.page_limit, fetch)


async def rendered_list(
    request: Request, ctx: OcpiContext, page: PageRequest, rendered: Sequence[dict[str, Any]]
) -> OcpiResponse:
    """Paged over ``rendered``, every object the partner can receive in the request's
    ``last_updated`` window, in creation order: full pages, each object once, a true total."""

    async def fetch(offset: int, limit: int) -> Page:
        return Page(list(rendered[offset : offset + limit]), len(rendered))

    return await list_response(request, ctx.public_url, page, ctx.settings.page_limit, fetch)
