"""``@on(action)`` handlers, as in mobilityhouse/ocpp, but typed and taking the payload.

Handlers receive the payload as the charger sent it (camelCase, already validated) and
return the response payload. Skipping the library's camelCase/snake_case conversion of
every key keeps a frame cheap; the schemas already guarantee the shape.

Messages answered by one rule (those a CSMS only keeps) share a method marked with
``@on_each(actions)``, which is also given the action; the routes are the marked methods,
found on the class, so that a handler object is built with nothing added to it later.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

from cpo_backend.ocpp.connection import Handler

Method = TypeVar("Method", bound=Callable[..., Awaitable[dict[str, Any]]])

_ACTION = "_ocpp_action"
_ACTIONS = "_ocpp_actions"


def on(action: str) -> Callable[[Method], Method]:
    """Mark a method as the handler of the charger's ``action`` calls."""

    def mark(method: Method) -> Method:
        setattr(method, _ACTION, action)
        return method

    return mark


def on_each(actions: Iterable[str]) -> Callable[[Method], Method]:
    """Mark a method ``(self, action, payload)`` as the handler of every one of ``actions``."""

    def mark(method: Method) -> Method:
        setattr(method, _ACTIONS, tuple(actions))
        return method

    return mark


def collect_routes(handlers: object) -> dict[str, Handler]:
    """Map each action to the bound handler method of ``handlers``."""
    routes: dict[str, Handler] = {}
    for name in dir(type(handlers)):
        member = getattr(type(handlers), name)
        action = getattr(member, _ACTION, None)
        if action is not None:
            routes[action] = getattr(handlers, name)
        for each in getattr(member, _ACTIONS, ()):
            routes[each] = functools.partial(getattr(handlers, name), each)
    return routes
