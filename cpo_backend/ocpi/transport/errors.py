"""Every failure as an OCPI envelope, never a FastAPI-shaped body.

- unparsable JSON is a transport error: HTTP 400 with status 2001;
- a request that parsed but breaks the schema reached the OCPI layer: HTTP 200, 2001;
- unknown routes and methods keep their HTTP code (404, 405) with status 2000;
- a domain error (:class:`~cpo_backend.domain.errors.CpoError`) that no module turned
  into a more precise OCPI status gets one by its kind (:data:`STATUS_OF_KIND`);
- anything unexpected is HTTP 500 with 3000, and is logged.
"""

from __future__ import annotations

from typing import Any

import orjson
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import Response

from cpo_backend.domain.errors import CpoError, ErrorKind
from cpo_backend.ocpi.transport.envelope import OcpiError, StatusCode, ocpi_response

log = structlog.get_logger(__name__)


async def _ocpi_error(_request: Request, error: Exception) -> Response:
    assert isinstance(error, OcpiError)
    return ocpi_response(
        error.data, error.status_code, error.message, http_status=error.http_status
    )


# (HTTP status, OCPI status) of each kind of domain error.
STATUS_OF_KIND = {
    ErrorKind.NOT_FOUND: (404, StatusCode.CLIENT_ERROR),
    ErrorKind.CONFLICT: (409, StatusCode.CLIENT_ERROR),
    ErrorKind.INVALID: (400, StatusCode.INVALID_PARAMETERS),
    ErrorKind.UNAVAILABLE: (503, StatusCode.SERVER_ERROR),
    ErrorKind.TIMEOUT: (504, StatusCode.SERVER_ERROR),
    ErrorKind.UPSTREAM: (502, StatusCode.SERVER_ERROR),
}


async def _domain_error(_request: Request, error: Exception) -> Response:
    assert isinstance(error, CpoError)
    http_status, status_code = STATUS_OF_KIND[error.kind]
    return ocpi_response(None, status_code, error.message, http_status=http_status)


def _describe(errors: Any) -> str:
    parts = []
    for item in errors:
        where = ".".join(str(part) for part in item.get("loc", ()) if part != "body")
        parts.append(f"{where}: {item.get('msg')}" if where else str(item.get("msg")))
    return "; ".join(parts) or "invalid request"


async def _unparsable(request: Request, errors: Any) -> bool:
    """Whether the body is not JSON at all (sent without a JSON content type, too)."""
    if any(item.get("type") == "json_invalid" for item in errors):
        return True
    if not any(tuple(item.get("loc", ())) == ("body",) for item in errors):
        return False
    body = await request.body()
    try:
        orjson.loads(body)
    except orjson.JSONDecodeError:
        return bool(body)
    return False


async def _validation_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, RequestValidationError)
    errors = error.errors()
    unparsable = await _unparsable(request, errors)
    return ocpi_response(
        None,
        StatusCode.INVALID_PARAMETERS,
        "Invalid JSON" if unparsable else _describe(errors),
        http_status=400 if unparsable else 200,
    )


async def _http_error(_request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    return ocpi_response(
        None,
        StatusCode.CLIENT_ERROR,
        str(error.detail),
        http_status=error.status_code,
        headers=dict(error.headers or {}),
    )


async def _unexpected(request: Request, error: Exception) -> Response:
    log.exception("OCPI request failed", path=request.url.path)
    return ocpi_response(None, StatusCode.SERVER_ERROR, "Internal error", http_status=500)


def install(app: FastAPI) -> None:
    app.add_exception_handler(OcpiError, _ocpi_error)
    app.add_exception_handler(CpoError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
