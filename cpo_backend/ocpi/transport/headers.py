"""Unique message ids and routing headers on every OCPI response.

A pure ASGI middleware rather than a dependency: error responses produced by exception
handlers must carry the ids too. Routing headers are added only when the route marked
itself as a functional module (see :func:`mark_routed`); configuration modules
(versions, credentials, hubclientinfo) are not routed.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID = "X-Request-ID"
CORRELATION_ID = "X-Correlation-ID"
_ROUTING_STATE = "ocpi_routing"


@dataclass(frozen=True, slots=True)
class Party:
    country_code: str
    party_id: str


def routing_headers(sender: Party, receiver: Party | None) -> dict[str, str]:
    headers = {
        "OCPI-from-country-code": sender.country_code,
        "OCPI-from-party-id": sender.party_id,
    }
    if receiver is not None:
        headers["OCPI-to-country-code"] = receiver.country_code
        headers["OCPI-to-party-id"] = receiver.party_id
    return headers


def request_sender(headers: Headers) -> Party | None:
    """The party a request says it comes from (OCPI-from-*), if it says so."""
    country = headers.get("OCPI-from-country-code")
    party = headers.get("OCPI-from-party-id")
    return Party(country.upper(), party.upper()) if country and party else None


def mark_routed(request: Request, us: Party, caller: Party | None) -> None:
    """Ask for routing headers on this response: from us, to whoever asked."""
    request.state.ocpi_routing = (us, request_sender(request.headers) or caller)


class MessageIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = Headers(scope=scope)
        request_id = incoming.get(REQUEST_ID) or str(uuid.uuid4())
        correlation_id = incoming.get(CORRELATION_ID) or str(uuid.uuid4())

        async def send_with_ids(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers[REQUEST_ID] = request_id
                headers[CORRELATION_ID] = correlation_id
                routing = scope.get("state", {}).get(_ROUTING_STATE)
                if routing is not None:
                    for name, value in routing_headers(*routing).items():
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_ids)
