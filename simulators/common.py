"""Small helpers shared by the OCPP 1.6 and 2.0.1 simulators.

Everything here is protocol-version agnostic: wire formats that both versions share
(timestamps, the charger URL, the HTTP Basic header), the typed wrapper around the
untyped ``ocpp`` routing decorator and the journal that tests use to wait for messages.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Generic, NamedTuple, TypeVar
from urllib.parse import quote, urlsplit

from ocpp.routing import on

F = TypeVar("F", bound=Callable[..., Any])
E = TypeVar("E", bound=tuple[Any, ...])

DEFAULT_WAIT = 10.0
"""Seconds a test waits for an expected message before giving up."""


def utc_now() -> str:
    """Return the current time as OCPP wants it: UTC, millisecond precision and ``Z``."""
    return format_time(datetime.now(UTC))


def format_time(moment: datetime) -> str:
    """Format an aware datetime as ``2024-01-31T12:00:00.000Z``."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_time(text: str) -> datetime:
    """Parse an OCPP timestamp; naive values are taken as UTC, as most CSMSs mean that."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def seconds_until(text: str) -> float:
    """Seconds from now until the OCPP timestamp ``text`` (0 when it is in the past)."""
    return max(0.0, (parse_time(text) - datetime.now(UTC)).total_seconds())


def basic_auth_header(cp_id: str, password: str) -> str:
    """Build the ``Authorization`` value of OCPP security profiles 1 and 2."""
    token = base64.b64encode(f"{cp_id}:{password}".encode()).decode("ascii")
    return f"Basic {token}"


def charger_url(url: str, cp_id: str) -> str:
    """Return the websocket URL of ``cp_id``.

    Accepts either the CSMS endpoint (``ws://host/ocpp``) or the full charger URL
    (``ws://host/ocpp/CP_1``): the identity is appended, percent-encoded as the
    specifications require, unless the path already ends with it.
    """
    encoded = quote(cp_id, safe="")
    path = urlsplit(url).path.rstrip("/")
    if path.rsplit("/", 1)[-1] in (cp_id, encoded):
        return url
    return f"{url.rstrip('/')}/{encoded}"


def handles(action: str, *, skip_schema_validation: bool = False) -> Callable[[F], F]:
    """Typed façade over ``ocpp.routing.on``, which is untyped and would trip mypy."""
    decorator: Callable[[F], F] = on(action, skip_schema_validation=skip_schema_validation)
    return decorator


class Received(NamedTuple):
    """A CSMS→charger request as it came off the wire (camelCase payload)."""

    action: str
    payload: dict[str, Any]


class Sent(NamedTuple):
    """A charger→CSMS request and its answer.

    ``response`` is the ``ocpp`` result dataclass for typed calls, the raw payload for
    :meth:`~simulators.base.Simulator.call_raw`, or the ``OCPPError`` the CSMS answered.
    """

    action: str
    request: Any
    response: Any


class Journal(Generic[E]):
    """An append-only list of messages keyed by action that tests can await.

    Each :meth:`next` call for an action returns the following unseen entry of that
    action, whether it arrived before or after the call, so a test can trigger a command
    and then wait for it without racing the websocket. :meth:`catch_up` marks everything
    so far as seen, for tests that do not care about earlier messages.
    """

    def __init__(self) -> None:
        self.entries: list[E] = []
        self._cursors: dict[str, int] = {}
        self._floor = 0
        self._changed = asyncio.Event()

    def catch_up(self) -> None:
        """Treat every entry so far as seen by :meth:`next`."""
        self._floor = len(self.entries)

    def append(self, entry: E) -> None:
        """Record ``entry`` and wake the waiters."""
        self.entries.append(entry)
        self._changed.set()
        self._changed = asyncio.Event()

    async def next(self, action: str, timeout: float = DEFAULT_WAIT) -> E:
        """Return the next entry of ``action`` not yet returned; raise TimeoutError."""
        async with asyncio.timeout(timeout):
            while True:
                changed = self._changed
                start = max(self._cursors.get(action, 0), self._floor)
                for index in range(start, len(self.entries)):
                    if self.entries[index][0] == action:
                        self._cursors[action] = index + 1
                        return self.entries[index]
                self._cursors[action] = len(self.entries)
                await changed.wait()
