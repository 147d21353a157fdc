"""A projector that fails on one event: retried, recorded, skipped; the log flows on.

The projector here is the test's own consumer of the real runner, event log and writer
of a running back-end: it fails on the events of one station, as a bug in a handler
would, and notes what it applied.
"""

from __future__ import annotations

from collections.abc import Hashable

from sqlalchemy import select

from cpo_backend.app import CpoBackend
from cpo_backend.db.projection import ProjectionWrite, ProjectorRunner
from cpo_backend.db.tables import ProjectorFailureRow
from cpo_backend.db.writer import WriteTx
from cpo_backend.domain.events import DomainEvent, StationConnected
from cpo_backend.domain.time import utc_now
from tests.conftest import eventually


class Picky:
    """Fails to prepare every event of station ``POISON``; applies the others."""

    name = "picky"

    def __init__(self) -> None:
        self.applied: list[str] = []

    async def prepare(self, event: DomainEvent) -> ProjectionWrite | None:
        if not isinstance(event, StationConnected):
            return None
        if event.station_id == "POISON":
            raise ValueError("a handler bug")
        station = event.station_id

        async def write(_tx: WriteTx) -> None:
            self.applied.append(station)

        return write

    def ordering_key(self, event: DomainEvent) -> Hashable | None:
        return None


async def _connect(backend: CpoBackend, station: str) -> None:
    async def op(tx: WriteTx) -> None:
        tx.emit(StationConnected(station, utc_now(), "ocpp1.6"))

    await backend.db.write(op)


async def test_a_failing_event_is_recorded_and_the_next_ones_are_applied(
    backend: CpoBackend,
) -> None:
    picky = Picky()
    runner = ProjectorRunner(backend.db, picky, poll=0.05)
    backend.events.subscribe(runner.notify)
    await runner.start()
    try:
        await _connect(backend, "BEFORE")
        await eventually(lambda: picky.applied == ["BEFORE"])
        await _connect(backend, "POISON")
        await _connect(backend, "AFTER")
        await eventually(lambda: picky.applied == ["BEFORE", "AFTER"], timeout=15)
    finally:
        await runner.stop()
    failures = await backend.db.fetch_all(
        select(ProjectorFailureRow).where(ProjectorFailureRow.projector == "picky")
    )
    assert [failure.error for failure in failures] == ["ValueError('a handler bug')"]
