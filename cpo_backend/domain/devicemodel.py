"""A station's OCPP 2.0.1 device model, as its reports describe it.

A report (GetBaseReport/GetReport) arrives as NotifyReport parts numbered by ``seqNo``,
the last one with ``tbc`` false. Each part is stored as it comes rather than held in
memory until the last: a report of thousands of variables survives a reconnect or a
restart half-way, and the parts may arrive in any order. A report is *complete* once
the last part and every part before it have arrived.

Variables are addressed by component (name, instance, EVSE, connector) and variable
(name, instance); a newer report replaces what an older one said about a variable.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update

from cpo_backend.db.database import Database
from cpo_backend.db.tables import DeviceModelReportRow, DeviceModelVariableRow
from cpo_backend.db.writer import WriteTx
from cpo_backend.domain.model import Record
from cpo_backend.domain.time import UtcTimestamp, utc_now


class DeviceModelVariable(Record):
    component: str
    component_instance: str | None
    evse_id: int | None
    connector_id: int | None
    variable: str
    variable_instance: str | None
    # variableAttribute entries as reported: type, value, mutability, persistent, constant.
    attributes: list[dict[str, Any]]
    characteristics: dict[str, Any] | None
    request_id: int | None
    updated_at: UtcTimestamp


class DeviceModelReport(Record):
    request_id: int
    parts_received: int
    last_seq_no: int | None
    complete: bool
    variables: int
    generated_at: UtcTimestamp
    first_received_at: UtcTimestamp
    completed_at: UtcTimestamp | None


class DeviceModel(Record):
    station_id: str
    reports: list[DeviceModelReport]
    variables: list[DeviceModelVariable]


def variable_key(
    component: str,
    variable: str,
    *,
    component_instance: str | None = None,
    evse_id: int | None = None,
    connector_id: int | None = None,
    variable_instance: str | None = None,
) -> str:
    """One string per variable address (see ``DeviceModelVariableRow``)."""
    where = (
        ""
        if evse_id is None
        else f"@{evse_id}" + ("" if connector_id is None else f".{connector_id}")
    )
    return f"{component}[{component_instance or ''}]{where}/{variable}[{variable_instance or ''}]"


def _variable_row(
    station_id: str, request_id: int, data: dict[str, Any], now: datetime
) -> dict[str, Any]:
    component, variable = data["component"], data["variable"]
    evse = component.get("evse") or {}
    address = {
        "component_instance": component.get("instance"),
        "evse_id": evse.get("id"),
        "connector_id": evse.get("connectorId"),
        "variable_instance": variable.get("instance"),
    }
    return {
        "station_id": station_id,
        "key": variable_key(component["name"], variable["name"], **address),
        "component": component["name"],
        "variable": variable["name"],
        **address,
        "attributes": data["variableAttribute"],
        "characteristics": data.get("variableCharacteristics"),
        "request_id": request_id,
        "updated_at": now,
    }


class DeviceModelService:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._upsert = db.upsert(
            DeviceModelVariableRow,
            ["station_id", "key"],
            [
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
            ],
        )

    async def record_report_part(
        self,
        station_id: str,
        request_id: int,
        seq_no: int,
        tbc: bool,
        generated_at: datetime,
        report_data: Sequence[dict[str, Any]],
    ) -> None:
        """Store one NotifyReport part and advance its report's progress."""
        now = utc_now()
        rows = [_variable_row(station_id, request_id, data, now) for data in report_data]

        async def op(tx: WriteTx) -> None:
            for row in rows:
                tx.defer(self._upsert, row)
            report = (
                await tx.execute(
                    select(DeviceModelReportRow)
                    .where(DeviceModelReportRow.station_id == station_id)
                    .where(DeviceModelReportRow.request_id == request_id)
                )
            ).first()
            parts = 1 + (report.parts_received if report else 0)
            last_seq_no = seq_no if not tbc else (report.last_seq_no if report else None)
            complete = last_seq_no is not None and parts == last_seq_no + 1
            values = {
                "parts_received": parts,
                "last_seq_no": last_seq_no,
                "complete": complete,
                "variables": len(rows) + (report.variables if report else 0),
                "completed_at": now if complete else None,
            }
            if report is None:
                await tx.execute(
                    insert(DeviceModelReportRow).values(
                        station_id=station_id,
                        request_id=request_id,
                        generated_at=generated_at,
                        first_received_at=now,
                        **values,
                    )
                )
            else:
                await tx.execute(
                    update(DeviceModelReportRow)
                    .where(DeviceModelReportRow.station_id == station_id)
                    .where(DeviceModelReportRow.request_id == request_id)
                    .values(**values)
                )

        await self._db.write(op)

    async def get(self, station_id: str) -> DeviceModel:
        reports = await self._db.fetch_all(
            select(DeviceModelReportRow)
            .where(DeviceModelReportRow.station_id == station_id)
            .order_by(DeviceModelReportRow.first_received_at.desc())
        )
        variables = await self._db.fetch_all(
            select(DeviceModelVariableRow)
            .where(DeviceModelVariableRow.station_id == station_id)
            .order_by(DeviceModelVariableRow.key)
        )
        return DeviceModel(
            station_id=station_id,
            reports=[DeviceModelReport.model_validate(row) for row in reports],
            variables=[DeviceModelVariable.model_validate(row) for row in variables],
        )
