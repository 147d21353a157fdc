"""GET lists of our own catalogue (locations, tariffs): the same objects for every partner,
in each version's shape; one a version cannot express is left out of its list."""

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
    render: Callable[[Item], dict[str, Any] | None],
) -> OcpiResponse:
    async def fetch(offset: int, limit: int) -> Page:
        items, total = await pager(
            offset=offset, limit=limit, updated_from=page.date_from, updated_to=page.date_to
        )
        rendered = [render(item) for item in items]
        return Page([item for item in rendered if item is not None], total)

    return await list_response(request, ctx.public_url, page, ctx.settings.page_limit, fetch)
