"""Pages of a catalogue (locations, tariffs ...): a ``last_updated`` window, a total and
a stable creation order, as OCPI's paginated GET lists need them."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import ColumnElement, Executable, Select, func, select


class Executor(Protocol):
    """A connection or a write transaction: both run statements."""

    async def execute(self, statement: Executable) -> Any: ...


def updated_window(
    column: Any, updated_from: datetime | None, updated_to: datetime | None
) -> list[ColumnElement[bool]]:
    """``updated_from`` inclusive, ``updated_to`` exclusive."""
    conditions: list[ColumnElement[bool]] = []
    if updated_from is not None:
        conditions.append(column >= updated_from)
    if updated_to is not None:
        conditions.append(column < updated_to)
    return conditions


async def fetch_page(
    db: Executor, query: Select[Any], order_by: tuple[Any, ...], offset: int, limit: int
) -> tuple[list[Any], int]:
    """The rows of ``query`` from ``offset`` (at most ``limit``) and how many match in all."""
    total = (await db.execute(select(func.count()).select_from(query.subquery()))).scalar_one()
    rows = (await db.execute(query.order_by(*order_by).offset(offset).limit(limit))).all()
    return list(rows), int(total)
