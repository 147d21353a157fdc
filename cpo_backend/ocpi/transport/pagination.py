"""Paginated GET lists: the query parameters and the response headers.

``date_from`` is inclusive and ``date_to`` exclusive on ``last_updated``; the order is
stable (creation order, then id) so that walking the ``Link: rel="next"`` pages sees
every object once. A ``limit`` above our maximum is lowered, as the spec allows, and
``X-Limit`` says by how much.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Query, Request

from cpo_backend.domain.time import format_utc, parse_timestamp
from cpo_backend.ocpi.transport.envelope import (
    OcpiError,
    OcpiResponse,
    StatusCode,
    ocpi_response,
)


@dataclass(frozen=True, slots=True)
class PageRequest:
    offset: int
    limit: int | None
    date_from: datetime | None
    date_to: datetime | None

    def bounded(self, maximum: int) -> int:
        return maximum if self.limit is None else min(self.limit, maximum)


# RFC 3339 as OCPI restricts it; no zone designator means UTC.
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|z|[+-]\d{2}:\d{2})?$")


def parse_datetime(name: str, value: str | None) -> datetime | None:
    """An OCPI DateTime query parameter, or status 2001 naming the parameter."""
    if value is None:
        return None
    if not _DATETIME.match(value):
        raise OcpiError(StatusCode.INVALID_PARAMETERS, f"{name}: not an RFC 3339 DateTime")
    try:
        return parse_timestamp(value)
    except ValueError:
        raise OcpiError(StatusCode.INVALID_PARAMETERS, f"{name}: not a valid DateTime") from None


def require_datetime(name: str, value: str) -> datetime:
    """A mandatory OCPI DateTime field, or status 2001."""
    parsed = parse_datetime(name, value)
    if parsed is None:
        raise OcpiError(StatusCode.INVALID_PARAMETERS, f"{name}: missing")
    return parsed


def page_request(
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int | None, Query(ge=0)] = None,
    date_from: Annotated[str | None, Query()] = None,
    date_to: Annotated[str | None, Query()] = None,
) -> PageRequest:
    """FastAPI dependency; a bad value becomes status 2001."""
    return PageRequest(
        offset, limit, parse_datetime("date_from", date_from), parse_datetime("date_to", date_to)
    )


@dataclass(frozen=True, slots=True)
class Page:
    items: list[Any]
    total: int


Fetch = Callable[[int, int], Awaitable[Page]]


async def list_response(
    request: Request, public_url: str, page_request: PageRequest, maximum: int, fetch: Fetch
) -> OcpiResponse:
    """A paginated GET list: ``fetch(offset, limit)`` gives the page, this the rest."""
    limit = page_request.bounded(maximum)
    page = await fetch(page_request.offset, limit)
    return paginated_response(request, public_url, page_request, page, limit)


def paginated_response(
    request: Request, public_url: str, page_request: PageRequest, page: Page, limit: int
) -> OcpiResponse:
    headers = {"X-Total-Count": str(page.total), "X-Limit": str(limit)}
    next_offset = page_request.offset + len(page.items)
    if page.items and next_offset < page.total:
        query: dict[str, str | int] = {"offset": next_offset, "limit": limit}
        if page_request.date_from is not None:
            query["date_from"] = format_utc(page_request.date_from)
        if page_request.date_to is not None:
            query["date_to"] = format_utc(page_request.date_to)
        url = public_url.rstrip("/") + request.url.path
        headers["Link"] = f'<{url}?{urlencode(query)}>; rel="next"'
    return ocpi_response(page.items, headers=headers)
