"""One charger's websocket: its receive loop, its calls to us and ours to it.

Calls from the charger are handled one after the other, in the order they arrive, on the
receive loop itself: OCPP lets a charger have one call outstanding at a time, and order
matters (a StopTransaction must not overtake the MeterValues before it). A handler must
therefore never wait for a command to the same charger; it starts a task for that.

Our own calls to the charger are serialised by a lock, as OCPP asks, and matched to the
answer by message id.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import structlog
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from cpo_backend.domain.errors import CpoError
from cpo_backend.domain.errors import ErrorKind as DomainErrorKind
from cpo_backend.domain.messagelog import Frame
from cpo_backend.ocpp.protocol import (
    CALL,
    CALL_ERROR,
    CALL_RESULT,
    Call,
    CallError,
    CallResult,
    ErrorKind,
    OcppError,
    OcppVersion,
    decode,
    encode,
)

log = structlog.get_logger("cpo_backend.ocpp")

Handler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


# A domain refusal as a CallError: the request's values are the problem, or we failed.
_CALL_ERROR_OF_KIND = {
    DomainErrorKind.NOT_FOUND: ErrorKind.PROPERTY_CONSTRAINT,
    DomainErrorKind.CONFLICT: ErrorKind.PROPERTY_CONSTRAINT,
    DomainErrorKind.INVALID: ErrorKind.PROPERTY_CONSTRAINT,
    DomainErrorKind.UNAVAILABLE: ErrorKind.INTERNAL,
    DomainErrorKind.TIMEOUT: ErrorKind.INTERNAL,
    DomainErrorKind.UPSTREAM: ErrorKind.INTERNAL,
}


class FrameObserver(Protocol):
    """Gets every frame, for logs, the message log and metrics."""

    def frame(self, frame: Frame) -> None: ...

    def handled(self, action: str, seconds: float, error: str | None) -> None: ...


class CallFailed(Exception):
    """The charger answered our call with a CallError."""

    def __init__(self, error: CallError) -> None:
        super().__init__(f"{error.code}: {error.description}")
        self.error = error


class InvalidAnswer(Exception):
    """The charger's CALLRESULT breaks the response schema."""


_message_ids = itertools.count(1)


class OcppConnection:
    def __init__(
        self,
        websocket: ServerConnection,
        station_id: str,
        version: OcppVersion,
        routes: dict[str, Handler],
        observer: FrameObserver,
        *,
        response_timeout: float,
        on_traffic: Callable[[], None],
        after_reply: list[Callable[[], Awaitable[None]]] | None = None,
        triggered: set[str] | None = None,
    ) -> None:
        self.websocket = websocket
        self.station_id = station_id
        self.version = version
        self.routes = routes
        self._observer = observer
        self._response_timeout = response_timeout
        self._on_traffic = on_traffic
        self._after_reply = after_reply if after_reply is not None else []
        # What the station accepted to send at a TriggerMessage (StationSession.triggered).
        self._triggered = triggered if triggered is not None else set()
        self._background: set[asyncio.Task[None]] = set()
        self._call_lock = asyncio.Lock()
        self._pending: tuple[str, str, asyncio.Future[dict[str, Any]]] | None = None

    async def serve(self) -> None:
        """Handle frames until the connection closes."""
        try:
            async for text in self.websocket:
                self._on_traffic()
                await self._receive(text)
        except ConnectionClosed:
            pass
        finally:
            if self._pending is not None and not self._pending[2].done():
                self._pending[2].set_exception(ConnectionError("connection closed"))

    async def close(self, reason: str) -> None:
        await self.websocket.close(1000, reason)

    async def call(
        self, action: str, payload: dict[str, Any], timeout: float | None = None
    ) -> dict[str, Any]:
        """Send a CALL and return the charger's CALLRESULT payload.

        Raises :class:`OcppError` if the payload breaks the schema (before sending),
        :class:`CallFailed` on a CallError, ``TimeoutError`` when no answer comes,
        ``ConnectionError`` when the connection closes first, and :class:`InvalidAnswer`
        if the answer breaks the response schema.
        """
        self.version.validate_request(action, payload)
        async with self._call_lock:
            unique_id = str(next(_message_ids))
            future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
            self._pending = (unique_id, action, future)
            try:
                try:
                    await self._send(
                        CALL, action, unique_id, encode([CALL, unique_id, action, payload])
                    )
                except ConnectionClosed as closed:
                    raise ConnectionError("connection closed") from closed
                async with asyncio.timeout(timeout or self._response_timeout):
                    response = await future
            finally:
                self._pending = None
        try:
            self.version.validate_response(action, response)
        except OcppError as error:
            raise InvalidAnswer(f"{action} answer breaks the schema: {error.description}") from None
        if action == "TriggerMessage" and response.get("status") == "Accepted":
            # Same field and status in 1.6 and 2.0.1.
            self._triggered.add(payload["requestedMessage"])
        return response

    async def _receive(self, text: str | bytes) -> None:
        if isinstance(text, bytes):
            # OCPP-J frames are text; a binary frame is still answered rather than dropped.
            text = text.decode("utf-8", "replace")
        try:
            frame = decode(text)
        except OcppError as error:
            self._observer.frame(Frame(self.station_id, "in", None, None, error.unique_id, text))
            await self._send_error(error)
            return
        if isinstance(frame, Call):
            self._observer.frame(
                Frame(self.station_id, "in", CALL, frame.action, frame.unique_id, text)
            )
            await self._handle_call(frame)
        else:
            action = self._settle(frame)
            message_type = CALL_RESULT if isinstance(frame, CallResult) else CALL_ERROR
            self._observer.frame(
                Frame(self.station_id, "in", message_type, action, frame.unique_id, text)
            )

    def _settle(self, frame: CallResult | CallError) -> str | None:
        pending = self._pending
        if pending is None or pending[0] != frame.unique_id or pending[2].done():
            log.warning(
                "answer to no outstanding call", station=self.station_id, message_id=frame.unique_id
            )
            return None
        _unique_id, action, future = pending
        if isinstance(frame, CallResult):
            future.set_result(frame.payload)
        else:
            future.set_exception(CallFailed(frame))
        return action

    async def _handle_call(self, call: Call) -> None:
        started = time.perf_counter()
        error_code: str | None = None
        try:
            handler = self.routes.get(call.action)
            if handler is None:
                kind = (
                    ErrorKind.NOT_SUPPORTED
                    if call.action in self.version.actions
                    else ErrorKind.NOT_IMPLEMENTED
                )
                raise OcppError(kind, f"{call.action} is not handled by this central system")
            self.version.validate_request(call.action, call.payload)
            response = await handler(call.payload)
            try:
                self.version.validate_response(call.action, response)
            except OcppError as error:
                log.error("our response breaks the schema", action=call.action, error=str(error))
                raise OcppError(
                    ErrorKind.INTERNAL, "the central system built an invalid response"
                ) from error
        except OcppError as error:
            error_code = self.version.error_code(error.kind)
            await self._send_error(error, call.unique_id, call.action)
        except CpoError as refused:
            # A domain rule refused the message: the charger hears which, not "internal".
            log.warning(
                "call refused",
                station=self.station_id,
                action=call.action,
                error=refused.code,
                message=refused.message,
            )
            answer = OcppError(_CALL_ERROR_OF_KIND[refused.kind], refused.message)
            error_code = self.version.error_code(answer.kind)
            await self._send_error(answer, call.unique_id, call.action)
        except Exception:
            log.exception("handler failed", station=self.station_id, action=call.action)
            error_code = self.version.error_code(ErrorKind.INTERNAL)
            await self._send_error(
                OcppError(ErrorKind.INTERNAL, "the central system could not process the call"),
                call.unique_id,
                call.action,
            )
        else:
            await self._reply(
                CALL_RESULT,
                call.action,
                call.unique_id,
                encode([CALL_RESULT, call.unique_id, response]),
            )
        self._observer.handled(call.action, time.perf_counter() - started, error_code)
        while self._after_reply:
            self._start_background(self._after_reply.pop(0)())

    def _start_background(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._background.add(task)
        task.add_done_callback(self._background_done)

    def _background_done(self, task: asyncio.Task[None]) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error(
                "work after a reply failed", station=self.station_id, error=repr(task.exception())
            )

    async def _send_error(
        self, error: OcppError, unique_id: str | None = None, action: str | None = None
    ) -> None:
        text = self.version.error_frame(error, unique_id)
        await self._reply(CALL_ERROR, action, unique_id or error.unique_id, text)

    async def _send(
        self, message_type: int, action: str | None, unique_id: str | None, text: str
    ) -> None:
        self._observer.frame(Frame(self.station_id, "out", message_type, action, unique_id, text))
        await self.websocket.send(text)

    async def _reply(
        self, message_type: int, action: str | None, unique_id: str | None, text: str
    ) -> None:
        # The charger may leave before our answer; what it sent is committed and it will
        # send the call again after reconnecting.
        with contextlib.suppress(ConnectionClosed):
            await self._send(message_type, action, unique_id, text)
