"""Writes of one row by its key, which the stores of operator-managed objects share."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import InstrumentedAttribute

from cpo_backend.db.writer import WriteTx


async def insert_if_new(
    tx: WriteTx, key: InstrumentedAttribute[Any], value: Any, **columns: Any
) -> bool:
    """Insert the row whose ``key`` is ``value`` unless one is stored; False then.

    Read first rather than insert-or-ignore: the caller tells the operator that the id is
    taken, and a failed insert would abort a PostgreSQL transaction the writer shares."""
    table = key.class_
    if (await tx.execute(select(key).where(key == value))).first() is not None:
        return False
    await tx.execute(insert(table).values({key.key: value, **columns}))
    return True


async def update_by_key(
    tx: WriteTx, key: InstrumentedAttribute[Any], value: Any, **columns: Any
) -> bool:
    """Set ``columns`` of the row whose ``key`` is ``value``; False when there is none."""
    result = await tx.execute(update(key.class_).where(key == value).values(**columns))
    return bool(result.rowcount > 0)
