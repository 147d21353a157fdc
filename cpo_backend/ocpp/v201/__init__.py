"""OCPP 2.0.1: provisioning, security events, authorization, transactions, remote control,
availability, meter values and data transfer; every other charger message kept."""

from __future__ import annotations

from ocpp.v201.enums import Action

from cpo_backend.ocpp.binding import StationSession
from cpo_backend.ocpp.protocol import OcppVersion
from cpo_backend.ocpp.v201.handlers import Ocpp201Services, StationHandlers

VERSION = OcppVersion(
    name="2.0.1",
    subprotocol="ocpp2.0.1",
    schema_package="ocpp.v201.schemas",
    request_suffix="Request",
    # 2.0.1 spells every error as the ErrorKind value.
    error_codes={},
    actions=frozenset(action.value for action in Action),
)


class Ocpp201Binding:
    version = VERSION

    def __init__(self, services: Ocpp201Services) -> None:
        self._services = services

    def handlers(self, session: StationSession) -> object:
        return StationHandlers(session, self._services)
