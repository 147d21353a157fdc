"""Structured logging: one line per event, JSON in production, readable on a terminal."""

from __future__ import annotations

import logging
import sys

import structlog

from cpo_backend.config import LoggingSettings


def configure_logging(settings: LoggingSettings) -> None:
    level = logging.getLevelName(settings.level.upper())
    if not isinstance(level, int):
        raise ValueError(f"unknown log level {settings.level!r}")
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer()
        if settings.json_output
        else structlog.dev.ConsoleRenderer(
            colors=False, exception_formatter=structlog.dev.plain_traceback
        )
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        # Calls below the level cost almost nothing: the per-frame lines stay cheap.
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )
    logging.basicConfig(level=level, stream=sys.stderr, format="%(levelname)s %(name)s %(message)s")
