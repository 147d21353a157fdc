"""``@on(action)`` handlers, as in mobilityhouse/ocpp, but typed and taking the payload.

Handlers receive the payload as the charger sent it (camelCase, already validated) and
return the response payload. Skipping the library's camelCase/snake_case conversion of
every key keeps a frame cheap; the schemas already guarantee the shape.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from cpo_backend.ocpp.connection import Handler

Method = TypeVar("Method", bound=Callable[..., Awaitable[dict[str, Any]]])

_ACTION = "_ocpp_action"


def on(action: str) -> Callable[[Method], Method]:
    """Mark a method as the handler of the charger's ``action`` calls."""

    def mark(method: Method) -> Method:
        setattr(method, _ACTION, action)
        return method

    return mark


def collect_routes(handlers: object) -> dict[str, Handler]:
    """Map each action to the bound handler method of ``handlers``."""
    routes: dict[str, Handler] = {}
    for name in dir(type(handlers)):
        action = getattr(getattr(type(handlers), name), _ACTION, None)
        if action is not None:
            routes[action] = getattr(handlers, name)
    return routes
