"""What differs between the OCPI versions we speak, for the objects we send.

Each push is rendered for the version its partner agreed in the credentials handshake,
when it is written to the outbox; the objects are stored in their 2.2.1 form (the richer
one) and each version's renderer derives its shape from that.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from cpo_backend.ocpi.context import VERSION, VERSION_211
from cpo_backend.ocpi.locations import render_location
from cpo_backend.ocpi.transport.headers import Party
from cpo_backend.ocpi.v211.locations import render_location_211
from cpo_backend.ocpi.v211.sessions import render_cdr_211, render_session_211, session_changes_211
from cpo_backend.ocpi.v211.tariffs import rendered_211
from cpo_backend.pricing import Tariff, render_tariff
from cpo_backend.roaming.locations import Location
from cpo_backend.roaming.partners import Partner

# 2.1.1 CommandResponseType has four results: the finer 2.2.1 failures are REJECTED.
RESULTS_211 = frozenset({"ACCEPTED", "NOT_SUPPORTED", "TIMEOUT", "UNKNOWN_SESSION"})


def command_result_211(result: str, _message: str | None) -> dict[str, Any]:
    return {"result": result if result in RESULTS_211 else "REJECTED"}


def command_result(result: str, message: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {"result": result}
    if message:
        body["message"] = [{"language": "en", "text": message[:512]}]
    return body


@dataclass(frozen=True, slots=True)
class Shapes:
    """One version's renderers; sessions and CDRs start from their 2.2.1 form."""

    location: Callable[[Location, Party], dict[str, Any]]
    # None: this version cannot express the tariff, so it is not sent.
    tariff: Callable[[Tariff], dict[str, Any] | None]
    session: Callable[[Mapping[str, Any], Location], dict[str, Any]]
    session_changes: Callable[[Mapping[str, Any]], dict[str, Any]]
    cdr: Callable[[Mapping[str, Any], Location], dict[str, Any]]
    command_result: Callable[[str, str | None], dict[str, Any]]
    # A Session PATCH with charging_periods appends them (2.2.1) or replaces the list.
    appends_periods: bool


SHAPES = {
    VERSION: Shapes(
        location=render_location,
        tariff=render_tariff,
        session=lambda session, _location: dict(session),
        session_changes=dict,
        cdr=lambda cdr, _location: dict(cdr),
        command_result=command_result,
        appends_periods=True,
    ),
    VERSION_211: Shapes(
        location=render_location_211,
        tariff=rendered_211,
        session=render_session_211,
        session_changes=session_changes_211,
        cdr=render_cdr_211,
        command_result=command_result_211,
        appends_periods=False,
    ),
}


def shapes_of(partner: Partner) -> Shapes:
    return SHAPES.get(partner.version or VERSION, SHAPES[VERSION])


def speaks(partner: Partner) -> bool:
    """Whether we can push to the partner at all: it agreed a version we speak."""
    return partner.version in SHAPES
