"""A background loop that runs rounds of work when woken, or every poll interval.

The outbox worker and the CDR sealer both wait for "something may have changed"
(a committed event) but must also catch up on their own (after a restart, after a
backoff expires), so each is one of these with its own round.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import structlog

log = structlog.get_logger(__name__)


class WakeableLoop:
    def __init__(
        self, name: str, work: Callable[[], Awaitable[bool]], poll: float, gap: float = 0.0
    ) -> None:
        """``work`` runs one round; True means "more may be ready": run again at once.
        ``gap``: the least time from one round's start to the next, so that the wakes
        of a busy moment share a round rather than each paying for its own."""
        self._name = name
        self._work = work
        self._poll = poll
        self._gap = gap
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        self._wake.set()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self._name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        clock = asyncio.get_running_loop()
        while True:
            started = clock.time()
            try:
                again = await self._work()
            except Exception:  # the loop must survive a bad row or a database hiccup
                log.exception("background round failed", loop=self._name)
                again = False
            rest = started + self._gap - clock.time()
            if rest > 0:
                await asyncio.sleep(rest)
            if again:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._poll)
            self._wake.clear()
