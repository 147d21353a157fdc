"""Errors as HTTP answers, one body shape for all: ``{"error", "message", ...subject}``.

Every :class:`~cpo_backend.domain.errors.CpoError` is mapped here once, by its kind:
4xx for the caller's mistakes, 502/504 only for a charger's or partner's. Request bodies
that break the schema and plain HTTP errors (401, 404 of a route) get the same shape, so
a client reads ``error`` for what happened and ``message`` for a sentence about it.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from cpo_backend.domain.commands import ChargerError
from cpo_backend.domain.errors import CpoError, ErrorKind

HTTP_STATUS = {
    ErrorKind.NOT_FOUND: status.HTTP_404_NOT_FOUND,
    ErrorKind.CONFLICT: status.HTTP_409_CONFLICT,
    ErrorKind.INVALID: status.HTTP_422_UNPROCESSABLE_CONTENT,
    # The station exists; it is its connection that is missing, for now.
    ErrorKind.UNAVAILABLE: status.HTTP_409_CONFLICT,
    ErrorKind.TIMEOUT: status.HTTP_504_GATEWAY_TIMEOUT,
    # The charger or partner, not we, failed: a bad gateway.
    ErrorKind.UPSTREAM: status.HTTP_502_BAD_GATEWAY,
}


class ErrorBody(BaseModel):
    """What every error answer holds; more fields name the object (``"station": "CP1"``)."""

    error: str
    message: str

    model_config = {"extra": "allow"}


# For the OpenAPI schema of every route.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody, "description": description}
    for code, description in (
        (404, "the object named does not exist"),
        (409, "the object is in a state the request does not apply to, or is offline"),
        (422, "the request cannot be carried out as asked"),
        (502, "the charger or partner answered with an error"),
        (504, "the charger or partner did not answer in time"),
    )
}


def _body(error: str, message: str, **more: Any) -> dict[str, Any]:
    return {"error": error, "message": message, **more}


async def _domain_error(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, CpoError)
    body = _body(error.code, error.message, **error.subject)
    if isinstance(error, ChargerError):
        body["charger_error"] = {
            "code": error.error_code,
            "description": error.description,
            "details": error.details,
        }
    return JSONResponse(body, status_code=HTTP_STATUS[error.kind])


async def _invalid_request(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    problems = [
        {
            "where": ".".join(str(part) for part in item.get("loc", ())),
            "problem": str(item.get("msg")),
        }
        for item in error.errors()
    ]
    summary = "; ".join(f"{p['where']}: {p['problem']}" for p in problems) or "invalid request"
    return JSONResponse(
        _body("invalid_request", summary, problems=problems),
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
    )


# The error word of the plain HTTP errors (no key, a route or method that is not there).
_HTTP_WORDS = {401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed"}


async def _http_error(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, HTTPException)
    return JSONResponse(
        _body(_HTTP_WORDS.get(error.status_code, "http_error"), str(error.detail)),
        status_code=error.status_code,
        headers=dict(error.headers or {}),
    )


def install(app: FastAPI) -> None:
    app.add_exception_handler(CpoError, _domain_error)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(HTTPException, _http_error)
