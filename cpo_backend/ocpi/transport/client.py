"""Our requests to partners: headers on the way out, the envelope on the way back.

A few ``httpx.AsyncClient`` pools are shared by the whole OCPI side. A failure to reach
the partner or to read its answer is :class:`PartnerCallFailed`; an answer with a
non-1000 status is returned, for the caller to decide.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from cpo_backend.ocpi.transport.auth import authorization_header
from cpo_backend.ocpi.transport.envelope import StatusCode
from cpo_backend.ocpi.transport.headers import (
    CORRELATION_ID,
    REQUEST_ID,
    Party,
    routing_headers,
)


class PartnerCallFailed(Exception):
    """The partner could not be reached or did not answer with an OCPI envelope."""


@dataclass(frozen=True, slots=True)
class PartnerReply:
    http_status: int
    status_code: int
    status_message: str | None
    data: Any
    headers: httpx.Headers

    @property
    def ok(self) -> bool:
        return self.http_status < 300 and self.status_code == StatusCode.SUCCESS


# Connections per pool. httpcore's pool does work quadratic in its connections on each
# request and each answer read (64 connections to one hub took 15% of a busy back-end's
# CPU), so many requests at once are spread over several small pools instead.
POOL_SIZE = 8


class OcpiClient:
    def __init__(self, pools: Sequence[httpx.AsyncClient], us: Party) -> None:
        """``pools``: the HTTP clients that requests take in turn."""
        self._pools = itertools.cycle(pools)
        self._us = us

    async def request(
        self,
        method: str,
        url: str,
        token: str,
        *,
        json: Any = None,
        to: Party | None = None,
        routed: bool = False,
        version: str = "2.2.1",
        params: dict[str, Any] | None = None,
        correlation_id: str | None = None,
        timeout: float | None = None,
    ) -> PartnerReply:
        """Send one request; ``routed`` adds OCPI-from/to (functional modules of 2.2.1
        only: 2.1.1 has no routing headers), ``version`` picks the token's encoding."""
        headers = {
            "Authorization": authorization_header(token, version=version),
            REQUEST_ID: str(uuid.uuid4()),
            CORRELATION_ID: correlation_id or str(uuid.uuid4()),
        }
        if routed and not version.startswith("2.1"):
            headers.update(routing_headers(self._us, to))
        try:
            response = await next(self._pools).request(
                method,
                url,
                json=json,
                headers=headers,
                params=params,
                timeout=timeout if timeout is not None else httpx.USE_CLIENT_DEFAULT,
            )
        except httpx.HTTPError as error:
            raise PartnerCallFailed(f"{method} {url}: {type(error).__name__}: {error}") from None
        try:
            body = response.json()
            status_code = int(body["status_code"])
        except (ValueError, KeyError, TypeError):
            raise PartnerCallFailed(
                f"{method} {url}: HTTP {response.status_code} without an OCPI envelope"
            ) from None
        return PartnerReply(
            response.status_code,
            status_code,
            body.get("status_message"),
            body.get("data"),
            response.headers,
        )
