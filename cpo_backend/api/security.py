"""API keys: ``X-API-Key: KEY`` or ``Authorization: Bearer KEY``."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Security, status
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from cpo_backend.api.services import ApiServices, services

_api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False)
_bearer = HTTPBearer(auto_error=False)


def require_api_key(
    api: Annotated[ApiServices, Depends(services)],
    api_key: Annotated[str | None, Security(_api_key_header)],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
) -> None:
    if not api.api_keys:
        return  # no key configured: an open API, as a laptop set-up wants
    offered = api_key or (bearer.credentials if bearer else None)
    if offered is None or not any(hmac.compare_digest(offered, key) for key in api.api_keys):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing or invalid API key",
            headers={"WWW-Authenticate": "Bearer"},
        )
