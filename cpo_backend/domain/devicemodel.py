"""A station's OCPP 2.0.1 device model, as its reports describe it.

A report (GetBaseReport/GetReport) arrives in numbered parts, the last one saying it is
the last (the OCPP adapter reads them into :class:`ReportedVariable` values). Each part
is stored as it comes rather than held in memory until the last: a report of thousands
of variables survives a reconnect or a restart half-way, and the parts may arrive in any
order. A report is *complete* once
the last part and every part before it have arrived.

Variables are addressed by component (name, instance, EVSE, connector) and variable
(name, instance); a newer report replaces what an older one said about a variable. The
answers to GetVariables and SetVariables (and to the 1.6-named GetConfiguration and
ChangeConfiguration sent as those) update the attribute they read or set, so the stored
model does not go stale between reports; a complete FullInventory report removes the
variables it no longer lists.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cpo_backend.db.database import Database
from cpo_backend.db.device_model_store import DeviceModelStore
from cpo_backend.db.writer import WriteTx
from cpo_backend.domain.commands import (
    Acknowledgement,
    Command,
    CommandResult,
    CommandStatus,
    ConfigurationChange,
    ConfigurationValues,
    GetBaseReport,
    VariableRef,
    VariableResult,
    VariableResults,
    VariableStatus,
)
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


@dataclass(frozen=True, slots=True)
class ReportedVariable:
    """One variable of a report part: where it is (``variable``'s address) and its
    attributes and characteristics as the station reported them, kept as documents."""

    variable: VariableRef
    attributes: tuple[dict[str, Any], ...]
    characteristics: dict[str, Any] | None


class DeviceModelService:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._store = DeviceModelStore(db)

    async def record_report_part(
        self,
        station_id: str,
        request_id: int,
        seq_no: int,
        tbc: bool,
        generated_at: datetime,
        variables: Sequence[ReportedVariable],
    ) -> None:
        """Store one report part and advance its report's progress."""
        now = utc_now()
        rows = [
            _variable_row(
                station_id,
                reported.variable,
                list(reported.attributes),
                now,
                characteristics=reported.characteristics,
                request_id=request_id,
            )
            for reported in variables
        ]

        async def op(tx: WriteTx) -> None:
            self._store.put_variables_later(tx, rows)
            report = await self._store.report(tx, station_id, request_id)
            parts = 1 + (report.parts_received if report else 0)
            last_seq_no = seq_no if not tbc else (report.last_seq_no if report else None)
            complete = last_seq_no is not None and parts == last_seq_no + 1
            if complete and report is not None and report.report_base == FULL_INVENTORY:
                await self._store.remove_untold(
                    tx, station_id, request_id, report.first_received_at
                )
            progress = {
                "parts_received": parts,
                "last_seq_no": last_seq_no,
                "complete": complete,
                "variables": len(rows) + (report.variables if report else 0),
                "completed_at": now if complete else None,
            }
            if report is None:
                await self._store.add_report(
                    tx,
                    station_id=station_id,
                    request_id=request_id,
                    generated_at=generated_at,
                    first_received_at=now,
                    **progress,
                )
            else:
                await self._store.change_report(tx, station_id, request_id, **progress)

        await self._db.write(op)

    async def on_command_result(
        self, station_id: str, command: Command[CommandResult], result: CommandResult
    ) -> None:
        """Keep the values a station just told (read) or accepted (set), and the base of a
        report it agreed to send."""
        if (
            isinstance(command, GetBaseReport)
            and isinstance(result, Acknowledgement)
            and result.status == CommandStatus.ACCEPTED
        ):
            await self._expect_report(station_id, command)
            return
        values = _told_values(result)
        if not values:
            return
        now = utc_now()

        async def op(tx: WriteTx) -> None:
            for ref, value in values:
                key = variable_key(ref.component, ref.variable, **_scope(ref))
                existing = await self._store.variable(tx, station_id, key)
                attributes = [dict(a) for a in (existing.attributes if existing else [])]
                found = next(
                    (a for a in attributes if a.get("type", "Actual") == ref.attribute_type), None
                )
                if found is None:
                    attributes.append({"type": ref.attribute_type, "value": value})
                else:
                    found["value"] = value
                row = _variable_row(
                    station_id,
                    ref,
                    attributes,
                    now,
                    characteristics=existing.characteristics if existing else None,
                    request_id=existing.request_id if existing else None,
                )
                await self._store.put_variable(tx, row)

        await self._db.write(op)

    async def _expect_report(self, station_id: str, command: GetBaseReport) -> None:
        """Note the base of a report; its parts may have come (even all of them) already."""
        now = utc_now()
        request_id = command.request_id

        async def op(tx: WriteTx) -> None:
            report = await self._store.report(tx, station_id, request_id)
            if report is None:
                await self._store.add_report(
                    tx,
                    station_id=station_id,
                    request_id=request_id,
                    parts_received=0,
                    last_seq_no=None,
                    complete=False,
                    variables=0,
                    generated_at=now,
                    first_received_at=now,
                    completed_at=None,
                    report_base=command.report_base,
                )
                return
            await self._store.change_report(
                tx, station_id, request_id, report_base=command.report_base
            )
            if report.complete and command.report_base == FULL_INVENTORY:
                await self._store.remove_untold(
                    tx, station_id, request_id, report.first_received_at
                )

        await self._db.write(op)

    async def get(self, station_id: str) -> DeviceModel:
        return DeviceModel(
            station_id=station_id,
            reports=[
                DeviceModelReport.model_validate(row)
                for row in await self._store.reports(station_id)
            ],
            variables=[
                DeviceModelVariable.model_validate(row)
                for row in await self._store.variables(station_id)
            ],
        )


def _variable_row(
    station_id: str,
    ref: VariableRef,
    attributes: list[dict[str, Any]],
    now: datetime,
    *,
    characteristics: dict[str, Any] | None,
    request_id: int | None,
) -> dict[str, Any]:
    """A ``device_model_variables`` row: a variable at its address, as now known."""
    scope = _scope(ref)
    return {
        "station_id": station_id,
        "key": variable_key(ref.component, ref.variable, **scope),
        "component": ref.component,
        "variable": ref.variable,
        **scope,
        "attributes": attributes,
        "characteristics": characteristics,
        "request_id": request_id,
        "updated_at": now,
    }


def _scope(ref: VariableRef) -> dict[str, Any]:
    """Where the variable is, beyond its component's and its own name (the row's columns)."""
    return {
        "component_instance": ref.component_instance,
        "evse_id": ref.evse_id,
        "connector_id": ref.connector_id,
        "variable_instance": ref.variable_instance,
    }


def _told_values(result: CommandResult) -> list[tuple[VariableRef, str]]:
    """The attribute values an answer establishes: each variable read or set with
    success (a 1.6 station's configuration keys are no device-model variables)."""
    results: tuple[VariableResult, ...] = ()
    if isinstance(result, VariableResults):
        results = result.results
    elif isinstance(result, ConfigurationValues):
        results = result.variables
    elif isinstance(result, ConfigurationChange) and result.variable is not None:
        results = (result.variable,)
    return [
        (told.variable, told.value)
        for told in results
        if told.status == VariableStatus.ACCEPTED and told.value is not None
    ]


FULL_INVENTORY = "FullInventory"
