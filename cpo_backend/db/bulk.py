"""Bulk inserts that skip SQLAlchemy's per-row parameter processing.

The hot tables (meter values: a dozen rows per MeterValues message; the message log:
two rows per call) take tens of thousands of rows per second. SQLAlchemy spends about
ten microseconds per row building and converting parameters; here each row is a plain
tuple, converted to the driver's representation only where the driver needs it, and a
batch goes out as one ``executemany``. Only plain columns are supported: strings,
numbers, booleans, decimals and datetimes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Table
from sqlalchemy.engine import Dialect

from cpo_backend.db.types import ExactDecimal, UtcDateTime
from cpo_backend.domain.time import as_utc


def _sqlite_datetime(value: datetime | None) -> str | None:
    # What SQLAlchemy's SQLite DATETIME writes and reads back, in UTC (see db.types).
    if value is None:
        return None
    return as_utc(value).replace(tzinfo=None).isoformat(" ", "microseconds")


class BulkInsert:
    def __init__(self, table: Table, columns: list[str], *, skip_duplicates: bool = False) -> None:
        self.table = table
        self.columns = columns
        # ON CONFLICT DO NOTHING: both SQLite and PostgreSQL spell it so.
        self._on_conflict = " ON CONFLICT DO NOTHING" if skip_duplicates else ""
        self._sql: dict[str, str] = {}
        # sqlite3 stores datetimes and decimals as text, in the format of our column types;
        # asyncpg takes both as they are.
        types = [table.c[name].type for name in columns]
        self._datetimes = [i for i, kind in enumerate(types) if isinstance(kind, UtcDateTime)]
        self._decimals = [i for i, kind in enumerate(types) if isinstance(kind, ExactDecimal)]

    def sql(self, dialect: Dialect) -> str:
        statement = self._sql.get(dialect.name)
        if statement is None:
            if dialect.paramstyle == "qmark":
                markers = ["?"] * len(self.columns)
            elif dialect.paramstyle in ("numeric_dollar", "numeric"):
                prefix = "$" if dialect.paramstyle == "numeric_dollar" else ":"
                markers = [f"{prefix}{index}" for index in range(1, len(self.columns) + 1)]
            else:
                markers = ["%s"] * len(self.columns)
            quote = dialect.identifier_preparer.quote
            statement = self._sql[dialect.name] = (
                f"INSERT INTO {quote(self.table.name)} "
                f"({', '.join(quote(column) for column in self.columns)}) "
                f"VALUES ({', '.join(markers)}){self._on_conflict}"
            )
        return statement

    def rows(self, dialect: Dialect, rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        """``rows`` (values in :attr:`columns` order) as the driver wants them."""
        if dialect.name != "sqlite":
            return rows
        # The rows of one message share their timestamps: convert each instant once.
        instants: dict[datetime | None, str | None] = {}
        converted = []
        for row in rows:
            values = list(row)
            for index in self._datetimes:
                moment = values[index]
                text = instants.get(moment)
                if text is None:
                    text = instants[moment] = _sqlite_datetime(moment)
                values[index] = text
            for index in self._decimals:
                if values[index] is not None:
                    values[index] = str(values[index])
            converted.append(tuple(values))
        return converted
