"""What every frame leaves behind: a log line, a message-log row and metrics."""

from __future__ import annotations

from typing import Any

import structlog
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from cpo_backend.domain.messagelog import MessageLog

log = structlog.get_logger("cpo_backend.ocpp.frames")


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
        self, message_log: MessageLog | None, metrics: OcppMetrics, *, log_frames: bool
    ) -> None:
        self._message_log = message_log
        self._metrics = metrics
        # Decided once: at thousands of frames per second even a filtered call costs.
        self._log_frames = log_frames
        self._call_timers: dict[str, Any] = {}

    def frame(
        self,
        station_id: str,
        direction: str,
        message_type: int | None,
        action: str | None,
        unique_id: str | None,
        text: str,
    ) -> None:
        if self._log_frames:
            log.info(
                "ocpp frame",
                station=station_id,
                direction=direction,
                message_type=message_type,
                action=action,
                message_id=unique_id,
            )
        if self._message_log is not None:
            self._message_log.record(station_id, direction, message_type, action, unique_id, text)

    def handled(self, action: str, seconds: float, error: str | None) -> None:
        timer = self._call_timers.get(action)
        if timer is None:
            timer = self._call_timers[action] = self._metrics.handled.labels(action)
        timer.observe(seconds)
        if error is not None:
            self._metrics.errors.labels(action, error).inc()
