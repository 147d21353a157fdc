"""Bulk inserts that skip SQLAlchemy's per-row parameter processing.

The hot tables (meter values: a dozen rows per MeterValues message; the message log:
two rows per call) take tens of thousands of rows per second. SQLAlchemy spends about
ten microseconds per row building and converting parameters; here each row becomes a
plain tuple in the driver's own representation and a batch goes out as one
``executemany``. Which columns need converting is read once from the table's types.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Table
from sqlalchemy.engine import Dialect

from cpo_backend.db.types import ExactDecimal, UtcDateTime
from cpo_backend.domain.time import as_utc


def _sqlite_datetime(value: datetime | None) -> str | None:
    # The representation SQLAlchemy's SQLite DATETIME writes and reads back (db.types).
    if value is None:
        return None
    return as_utc(value).replace(tzinfo=None).isoformat(" ", "microseconds")


def _sqlite_decimal(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


class BulkInsert:
    def __init__(self, table: Table, columns: list[str]) -> None:
        self.table = table
        self.columns = columns
        self._sql: dict[str, str] = {}
        self._sqlite_converters: list[tuple[int, Callable[[Any], Any]]] = []
        for index, name in enumerate(columns):
            column_type = table.c[name].type
            if isinstance(column_type, UtcDateTime):
                self._sqlite_converters.append((index, _sqlite_datetime))
            elif isinstance(column_type, ExactDecimal):
                self._sqlite_converters.append((index, _sqlite_decimal))

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
                f"VALUES ({', '.join(markers)})"
            )
        return statement

    def rows(self, dialect: Dialect, rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        """``rows`` (values in :attr:`columns` order) as the driver wants them."""
        if dialect.name != "sqlite":
            return rows
        # The rows of one message share their timestamps: convert each value once.
        memo: dict[Any, Any] = {}
        converted = []
        for row in rows:
            values = list(row)
            for index, convert in self._sqlite_converters:
                value = values[index]
                if value not in memo:
                    memo[value] = convert(value)
                values[index] = memo[value]
            converted.append(tuple(values))
        return converted
