"""Domain exceptions as HTTP answers: 4xx for the caller's mistakes, 5xx only for a charger's."""

from __future__ import annotations

from fastapi import FastAPI, Request, status
from fastapi.responses import JSONResponse

from cpo_backend.domain.commands import (
    ChargerError,
    CommandError,
    CommandNotSupported,
    CommandTimeout,
    StationOffline,
)
from cpo_backend.domain.stations import StationExists, StationNotFound
from cpo_backend.domain.tokens import TokenExists, TokenNotFound
from cpo_backend.domain.transactions import TransactionNotActive, TransactionNotFound

_STATUS: list[tuple[type[Exception], int]] = [
    (StationNotFound, status.HTTP_404_NOT_FOUND),
    (TokenNotFound, status.HTTP_404_NOT_FOUND),
    (TransactionNotFound, status.HTTP_404_NOT_FOUND),
    (StationExists, status.HTTP_409_CONFLICT),
    (TokenExists, status.HTTP_409_CONFLICT),
    (TransactionNotActive, status.HTTP_409_CONFLICT),
    (StationOffline, status.HTTP_409_CONFLICT),
    (CommandNotSupported, status.HTTP_422_UNPROCESSABLE_CONTENT),
    (CommandTimeout, status.HTTP_504_GATEWAY_TIMEOUT),
    # The charger, not we, failed: a bad gateway.
    (CommandError, status.HTTP_502_BAD_GATEWAY),
]


async def _domain_error(_request: Request, error: Exception) -> JSONResponse:
    code = next(code for kind, code in _STATUS if isinstance(error, kind))
    body: dict[str, object] = {"detail": str(error) or type(error).__name__}
    if isinstance(error, CommandError):
        body["error"] = error.code
    if isinstance(error, ChargerError):
        body["charger_error"] = {
            "code": error.error_code,
            "description": error.description,
            "details": error.details,
        }
    return JSONResponse(body, status_code=code)


def install(app: FastAPI) -> None:
    for kind, _code in _STATUS:
        app.add_exception_handler(kind, _domain_error)
