"""The stored device models: the statements :mod:`cpo_backend.domain.devicemodel` runs.

Rows in, rows out: the service decides what a report part or a command's answer means;
this module knows the tables ``device_model_variables`` and ``device_model_reports``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, delete, insert, or_, select, update

from cpo_backend.db.database import Database
from cpo_backend.db.tables import DeviceModelReportRow, DeviceModelVariableRow
from cpo_backend.db.writer import WriteTx

# The columns a variable's upsert replaces (all but its key).
_VARIABLE_VALUES = [
    "component",
    "component_instance",
    "evse_id",
    "connector_id",
    "variable",
    "variable_instance",
    "attributes",
    "characteristics",
    "request_id",
    "updated_at",
]


class DeviceModelStore:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._upsert = db.upsert(DeviceModelVariableRow, ["station_id", "key"], _VARIABLE_VALUES)

    def put_variables_later(self, tx: WriteTx, rows: Sequence[dict[str, Any]]) -> None:
        """Insert or replace variables at the end of the batch (nobody reads them back in it)."""
        for row in rows:
            tx.defer(self._upsert, row)

    async def put_variable(self, tx: WriteTx, row: dict[str, Any]) -> None:
        await tx.execute(self._upsert, row)

    async def variable(self, tx: WriteTx, station_id: str, key: str) -> Row[Any] | None:
        return (
            await tx.execute(
                select(DeviceModelVariableRow).where(
                    DeviceModelVariableRow.station_id == station_id,
                    DeviceModelVariableRow.key == key,
                )
            )
        ).first()

    async def report(self, tx: WriteTx, station_id: str, request_id: int) -> Row[Any] | None:
        return (
            await tx.execute(select(DeviceModelReportRow).where(*_report(station_id, request_id)))
        ).first()

    async def add_report(self, tx: WriteTx, **values: Any) -> None:
        await tx.execute(insert(DeviceModelReportRow).values(**values))

    async def change_report(
        self, tx: WriteTx, station_id: str, request_id: int, **values: Any
    ) -> None:
        await tx.execute(
            update(DeviceModelReportRow).where(*_report(station_id, request_id)).values(**values)
        )

    async def remove_untold(
        self, tx: WriteTx, station_id: str, request_id: int, since: datetime
    ) -> None:
        """Delete the station's variables that neither report ``request_id`` listed nor
        anything told since ``since``."""
        await tx.execute(
            delete(DeviceModelVariableRow).where(
                DeviceModelVariableRow.station_id == station_id,
                or_(
                    DeviceModelVariableRow.request_id.is_(None),
                    DeviceModelVariableRow.request_id != request_id,
                ),
                DeviceModelVariableRow.updated_at < since,
            )
        )

    async def reports(self, station_id: str) -> Sequence[Row[Any]]:
        """The station's reports, the newest first."""
        return await self._db.fetch_all(
            select(DeviceModelReportRow)
            .where(DeviceModelReportRow.station_id == station_id)
            .order_by(DeviceModelReportRow.first_received_at.desc())
        )

    async def variables(self, station_id: str) -> Sequence[Row[Any]]:
        """The station's variables, in key order."""
        return await self._db.fetch_all(
            select(DeviceModelVariableRow)
            .where(DeviceModelVariableRow.station_id == station_id)
            .order_by(DeviceModelVariableRow.key)
        )


def _report(station_id: str, request_id: int) -> tuple[Any, ...]:
    return (
        DeviceModelReportRow.station_id == station_id,
        DeviceModelReportRow.request_id == request_id,
    )
