"""The websocket session and test hooks shared by the 1.6 and 2.0.1 simulators.

``ocpp.ChargePoint`` is written for one long-lived ``start()`` loop that answers every
request and silently drops what it cannot parse. Test drivers need more control, so
:class:`Simulator` owns the receive loop and adds, per incoming frame:

* a journal of every CSMS request (``received`` / :meth:`wait_for`) and of every request
  the charger sent with its answer (``sent`` / :meth:`wait_sent`);
* canned answers (:meth:`override`) and deliberate silence (:meth:`silence`);
* replies to :meth:`send_raw`, which lets tests put arbitrary text on the wire;
* follow-up flows (a transaction after RemoteStart, a reboot after Reset...) that start
  only once the reply has been sent, as the specifications require, and that tests can
  await with :meth:`wait_idle`.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import asdict, is_dataclass
from ssl import SSLContext
from typing import Any, Self

from ocpp.charge_point import ChargePoint as OcppChargePoint
from ocpp.charge_point import remove_nones
from ocpp.exceptions import OCPPError
from ocpp.messages import Call, CallError, unpack, validate_payload
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from simulators.common import (
    DEFAULT_WAIT,
    Journal,
    Received,
    Sent,
    basic_auth_header,
    charger_url,
    handles,
)
from simulators.settings import Setting

log = logging.getLogger("simulators")

Flow = Coroutine[Any, Any, object]


class Simulator(OcppChargePoint):  # type: ignore[misc]  # ocpp is untyped
    """Connection, routing and test hooks of one simulated charger.

    Subclasses add the protocol: ``@handles`` methods answer CSMS requests and must not
    await the CSMS themselves (the receive loop would deadlock); they register follow-up
    work with :meth:`_after_reply` instead.
    """

    default_subprotocols: tuple[str, ...] = ()

    def __init__(
        self, cp_id: str, *, password: str | None = None, response_timeout: float = 30.0
    ) -> None:
        super().__init__(cp_id, None, response_timeout=response_timeout)
        self._response_queue: asyncio.Queue[Any]
        self.password = password
        self._received: Journal[Received] = Journal()
        self._sent: Journal[Sent] = Journal()
        self._overrides: dict[str, Mapping[str, Any] | OCPPError] = {}
        self._silenced: set[str] = set()
        self._deferred: list[Callable[[], Flow]] = []
        self._flows: set[asyncio.Task[object]] = set()
        self._background: set[asyncio.Task[object]] = set()
        self._failures: list[BaseException] = []
        self._raw_reply: asyncio.Future[str] | None = None
        self._ws: ClientConnection | None = None
        self._receiver: asyncio.Task[None] | None = None
        self._url = ""
        self._ssl: SSLContext | None = None
        self._subprotocols: tuple[str, ...] = self.default_subprotocols
        self._open_timeout = 10.0
        self._resumed = asyncio.Event()
        self._resumed.set()
        self._resumer: asyncio.Task[Any] | None = None

    # -- connection -------------------------------------------------------------------

    async def open(
        self,
        url: str,
        *,
        ssl: SSLContext | None = None,
        subprotocols: Sequence[str] | None = None,
        open_timeout: float = 10.0,
    ) -> Self:
        """Open the websocket to ``url`` (CSMS endpoint or full charger URL).

        Raises ``websockets.exceptions.InvalidStatus`` when the CSMS refuses the
        handshake, e.g. on a wrong password.
        """
        self._url = charger_url(url, self.id)
        self._ssl = ssl
        if subprotocols is not None:
            self._subprotocols = tuple(subprotocols)
        self._open_timeout = open_timeout
        await self._open_socket()
        return self

    async def _open_socket(self) -> None:
        headers = (
            {"Authorization": basic_auth_header(self.id, self.password)} if self.password else {}
        )
        self._ws = await connect(
            self._url,
            subprotocols=[Subprotocol(p) for p in self._subprotocols] or None,
            additional_headers=headers,
            ssl=self._ssl,
            open_timeout=self._open_timeout,
        )
        self._connection = self._ws
        self._response_queue = asyncio.Queue()  # stale answers must not outlive a socket
        self._receiver = asyncio.create_task(self._receive(self._ws))
        log.info("%s connected to %s (subprotocol %s)", self.id, self._url, self.subprotocol)

    @property
    def connected(self) -> bool:
        """Whether the websocket is open."""
        return self._receiver is not None and not self._receiver.done()

    @property
    def subprotocol(self) -> str | None:
        """The subprotocol the CSMS selected, ``None`` if it selected none."""
        return self._ws.subprotocol if self._ws else None

    async def disconnect(self) -> None:
        """Drop the websocket but keep state and flows, as on a network outage."""
        if self._ws is not None:
            await self._ws.close()
        if self._receiver is not None:
            await self._receiver
        log.info("%s disconnected", self.id)

    async def reconnect(self) -> None:
        """Reopen the websocket to the same URL, dropping the open one first if need be.

        Until the work due after the reconnection (:meth:`_on_reconnected`) is done, the
        requests of other tasks (a charging flow's meter values, heartbeats) wait instead
        of failing on the closed socket or overtaking it: a charger says first what it
        owes from before (a boot, queued transaction messages), then what is new.
        """
        self._resumed.clear()
        self._resumer = asyncio.current_task()
        try:
            await self.disconnect()
            await self._open_socket()
            await self._on_reconnected()
        finally:
            self._resumer = None
            self._resumed.set()

    async def _on_reconnected(self) -> None:
        """Hook for work due after a reconnection, such as replaying offline messages."""

    async def _wait_resumed(self) -> None:
        """Hold a request of any task but :meth:`reconnect`'s until it has resumed."""
        if asyncio.current_task() is not self._resumer:
            await self._resumed.wait()

    async def wait_closed(self, timeout: float = DEFAULT_WAIT) -> int | None:
        """Wait until the CSMS (or anything) closes the websocket; return the close code."""
        if self._receiver is not None:
            async with asyncio.timeout(timeout):
                await asyncio.shield(self._receiver)
        return self._ws.close_code if self._ws else None

    async def close(self) -> None:
        """Stop every flow and timer, then close the websocket."""
        tasks = self._flows | self._background
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.disconnect()

    @asynccontextmanager
    async def session(
        self,
        url: str,
        *,
        ssl: SSLContext | None = None,
        subprotocols: Sequence[str] | None = None,
        open_timeout: float = 10.0,
    ) -> AsyncIterator[Self]:
        """``async with sim.session(url) as sim:`` opens, yields and always closes."""
        await self.open(url, ssl=ssl, subprotocols=subprotocols, open_timeout=open_timeout)
        try:
            yield self
        finally:
            await self.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def _receive(self, ws: ClientConnection) -> None:
        error: BaseException = ConnectionError("websocket closed")
        try:
            async for frame in ws:
                await self._dispatch(frame if isinstance(frame, str) else frame.decode())
        except ConnectionClosed as closed:
            error = closed
        finally:
            if self._raw_reply is not None and not self._raw_reply.done():
                self._raw_reply.set_exception(error)
            log.info("%s websocket closed (code %s)", self.id, ws.close_code)

    async def _send(self, message: str) -> None:
        if self._ws is None:
            raise ConnectionError(f"{self.id} is not connected")
        await self._ws.send(message)

    # -- incoming frames --------------------------------------------------------------

    async def _dispatch(self, text: str) -> None:
        try:
            message = unpack(text)
        except OCPPError:
            message = None
        if (
            self._raw_reply is not None
            and not self._raw_reply.done()
            and not isinstance(message, Call)
        ):
            self._raw_reply.set_result(text)
        elif message is None:
            log.warning("%s ignores an unparsable frame: %s", self.id, text)
        elif not isinstance(message, Call):
            self._response_queue.put_nowait(message)
        else:
            await self._answer(message)
            self._received.append(Received(message.action, message.payload))

    async def _answer(self, message: Call) -> None:
        """Reply to a CSMS request: silence, an override or the protocol handler."""
        action = message.action
        log.info("%s <- %s %s", self.id, action, message.payload)
        if action in self._silenced:
            return
        canned = self._overrides.get(action)
        if isinstance(canned, OCPPError):
            await self._send(message.create_call_error(canned).to_json())
        elif canned is not None:
            await self._send(message.create_call_result(dict(canned)).to_json())
        else:
            self._deferred.clear()
            try:
                await self._handle_call(message)
            except OCPPError as error:
                await self._send(message.create_call_error(error).to_json())
                return
            for factory in self._deferred:
                self._spawn(factory())

    def _after_reply(self, factory: Callable[[], Flow]) -> None:
        """Run ``factory()`` as a flow once the reply to the current request is sent."""
        self._deferred.append(factory)

    # -- flows and background tasks ---------------------------------------------------

    def _spawn(self, coro: Flow, *, background: bool = False) -> asyncio.Task[object]:
        """Track a task; failures of flows are kept for :meth:`wait_idle` to re-raise."""
        task = asyncio.create_task(coro)
        tasks = self._background if background else self._flows
        tasks.add(task)

        def done(finished: asyncio.Task[object]) -> None:
            tasks.discard(finished)
            if not finished.cancelled() and (error := finished.exception()) is not None:
                log.error("%s: %s failed: %r", self.id, finished.get_coro(), error)
                self._failures.append(error)

        task.add_done_callback(done)
        return task

    async def wait_idle(self, timeout: float = DEFAULT_WAIT) -> None:
        """Wait until every follow-up flow has finished; re-raise the first failure.

        A charging flow started by RemoteStart only ends when the transaction stops, so
        wait for its messages with :meth:`wait_sent` instead.
        """
        async with asyncio.timeout(timeout):
            while self._flows:
                await asyncio.wait(set(self._flows))
        if self._failures:
            error, *self._failures = self._failures
            raise error

    # -- test hooks -------------------------------------------------------------------

    @property
    def received(self) -> list[Received]:
        """Every CSMS request so far, ``(action, camelCase payload)``, oldest first."""
        return self._received.entries

    @property
    def sent(self) -> list[Sent]:
        """Every request this charger sent, ``(action, request, response)``, oldest first."""
        return self._sent.entries

    async def wait_for(self, action: str, timeout: float = DEFAULT_WAIT) -> dict[str, Any]:
        """Payload of the next not yet awaited CSMS request ``action``, once answered.

        Requests that arrived before the call count: trigger, then wait.
        """
        return (await self._received.next(action, timeout)).payload

    async def wait_sent(self, action: str, timeout: float = DEFAULT_WAIT) -> Sent:
        """The next not yet awaited request ``action`` this charger sent, once answered."""
        return await self._sent.next(action, timeout)

    def catch_up(self) -> None:
        """Make :meth:`wait_for` and :meth:`wait_sent` ignore every message so far."""
        self._received.catch_up()
        self._sent.catch_up()

    def override(self, action: str, answer: Mapping[str, Any] | OCPPError) -> None:
        """Answer ``action`` with ``answer`` (camelCase payload or CallError), nothing else."""
        self._silenced.discard(action)
        self._overrides[action] = answer

    def silence(self, action: str) -> None:
        """Never answer ``action``, to make the CSMS time out."""
        self._overrides.pop(action, None)
        self._silenced.add(action)

    def restore(self, action: str) -> None:
        """Undo :meth:`override` and :meth:`silence` for ``action``."""
        self._overrides.pop(action, None)
        self._silenced.discard(action)

    # -- outgoing requests ------------------------------------------------------------

    async def request(self, payload: Any, *, validate: bool = True) -> Any:
        """Send an ``ocpp`` call dataclass and return the result dataclass.

        Raises the matching ``OCPPError`` when the CSMS answers with a CallError and
        ``TimeoutError`` after ``response_timeout``. ``validate=False`` skips the JSON
        schema checks of both request and response.
        """
        action = type(payload).__name__
        await self._wait_resumed()
        try:
            response = await self.call(payload, suppress=False, skip_schema_validation=not validate)
        except OCPPError as error:
            self._record(action, payload, error)
            raise
        self._record(action, payload, response)
        return response

    async def call_raw(
        self, action: str, payload: Mapping[str, Any], *, validate: bool = False
    ) -> dict[str, Any]:
        """Send ``payload`` (camelCase, unchecked by default) as ``action``; return the answer.

        For inputs the typed methods cannot build: schema-breaking payloads, unknown
        actions. Raises the ``OCPPError`` of a CallError answer.
        """
        call = Call(unique_id=str(uuid.uuid4()), action=action, payload=dict(payload))
        if validate:
            await validate_payload(call, self._ocpp_version)
        await self._wait_resumed()
        async with self._call_lock:
            await self._send(call.to_json())
            response = await self._get_specific_response(call.unique_id, self._response_timeout)
        if isinstance(response, CallError):
            error: OCPPError = response.to_exception()
            self._record(action, call.payload, error)
            raise error
        answer: dict[str, Any] = response.payload
        self._record(action, call.payload, answer)
        return answer

    def _record(self, action: str, request: Any, response: Any) -> None:
        log.info("%s -> %s %s => %s", self.id, action, _brief(request), _brief(response))
        self._sent.append(Sent(action, request, response))

    async def send_raw(self, text: str, timeout: float = DEFAULT_WAIT) -> str:
        """Send ``text`` as is and return the next non-request frame the CSMS sends.

        Requests the CSMS sends meanwhile are answered normally. Raises TimeoutError if
        nothing comes back and ``ConnectionClosed`` if the CSMS hangs up instead.
        """
        async with self._call_lock:
            self._raw_reply = asyncio.get_running_loop().create_future()
            try:
                await self._send(text)
                async with asyncio.timeout(timeout):
                    return await self._raw_reply
            finally:
                self._raw_reply = None

    # -- messages alike in 1.6 and 2.0.1 ------------------------------------------------

    async def heartbeat(self) -> Any:
        """Send Heartbeat; return the version's ``call_result.Heartbeat``."""
        return await self.request(self._call.Heartbeat())

    async def data_transfer(
        self, vendor_id: str, message_id: str | None = None, data: Any = None
    ) -> Any:
        """Send DataTransfer; return the version's ``call_result.DataTransfer``."""
        return await self.request(
            self._call.DataTransfer(vendor_id=vendor_id, message_id=message_id, data=data)
        )

    @handles("ClearCache")
    def on_clear_cache(self, **_: Any) -> Any:
        """There is no cache to clear: Accepted."""
        return self._call_result.ClearCache(status="Accepted")

    @handles("DataTransfer")
    def on_data_transfer(self, vendor_id: str, data: Any = None, **_: Any) -> Any:
        """Accept any vendor and echo the data back."""
        return self._call_result.DataTransfer(status="Accepted", data=data)

    # -- periodic heartbeat -----------------------------------------------------------

    def heartbeat_setting(self) -> Setting:
        """The configuration value holding the heartbeat interval in seconds."""
        raise NotImplementedError

    def start_heartbeat(self) -> None:
        """Send heartbeats in the background at :meth:`heartbeat_setting` until closed."""
        self._spawn(self._heartbeat_loop(), background=True)

    async def _heartbeat_loop(self) -> None:
        while True:
            await asyncio.sleep(max(self.heartbeat_setting().as_int, 1))
            if self.connected:
                try:
                    await self.heartbeat()
                except (OCPPError, TimeoutError, ConnectionError, ConnectionClosed) as error:
                    log.warning("%s heartbeat failed: %r", self.id, error)


def _brief(message: Any, limit: int = 300) -> str:
    """A message without unset fields, cut to ``limit`` characters, for one-line logs."""
    if is_dataclass(message) and not isinstance(message, type):
        message = remove_nones(asdict(message))
    text = str(message)
    return text if len(text) <= limit else text[:limit] + "..."
