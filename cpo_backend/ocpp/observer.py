"""What every frame leaves behind: a log line, a message-log row and metrics."""

from __future__ import annotations

import re
from typing import Any

import structlog
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from cpo_backend.domain.messagelog import Frame, MessageLog

log = structlog.get_logger("cpo_backend.ocpp.frames")

# 1.6 "idTag": "X" (and "parentIdTag"); 2.0.1 "idToken": {"idToken": "X", ...}, which also
# covers "groupIdToken": {"idToken": "X", ...}.
_ID_TOKEN_VALUES = re.compile(r'("(?:idTag|parentIdTag|idToken)"\s*:\s*)"(?:[^"\\]|\\.)*"')
REDACTED = '"***"'


def hide_id_tokens(text: str) -> str:
    """``text`` with the value of every id token replaced by ``REDACTED``."""
    return _ID_TOKEN_VALUES.sub(lambda match: match.group(1) + REDACTED, text)


class OcppMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.handled = Histogram(
            "ocpp_call_seconds",
            "Time to answer a charger's call",
            ["action"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
            registry=registry,
        )
        self.errors = Counter(
            "ocpp_call_errors",
            "CallErrors we answered, by code",
            ["action", "code"],
            registry=registry,
        )
        self.connected = Gauge(
            "ocpp_connected_stations", "Stations connected to this node", registry=registry
        )


class FrameRecorder:
    def __init__(
        self,
        message_log: MessageLog | None,
        metrics: OcppMetrics,
        *,
        log_frames: bool,
        redact_id_tokens: bool,
    ) -> None:
        self._message_log = message_log
        self._metrics = metrics
        # Decided once: at thousands of frames per second even a filtered call costs.
        self._log_frames = log_frames
        # The drivers' tokens are personal data the operator may not want kept in the log.
        self._redact = redact_id_tokens
        self._call_timers: dict[str, Any] = {}

    def frame(self, frame: Frame) -> None:
        if self._log_frames:
            log.info(
                "ocpp frame",
                station=frame.station_id,
                direction=frame.direction,
                message_type=frame.message_type,
                action=frame.action,
                message_id=frame.unique_id,
            )
        if self._message_log is not None:
            if self._redact:
                frame = frame._replace(payload=hide_id_tokens(frame.payload))
            self._message_log.record(frame)

    def handled(self, action: str, seconds: float, error: str | None) -> None:
        timer = self._call_timers.get(action)
        if timer is None:
            timer = self._call_timers[action] = self._metrics.handled.labels(action)
        timer.observe(seconds)
        if error is not None:
            self._metrics.errors.labels(action, error).inc()
