"""OCPP 1.6J: Core, Firmware Management, Remote Trigger (and Reservation commands)."""

from __future__ import annotations

from ocpp.v16.enums import Action

from cpo_backend.ocpp.binding import StationSession
from cpo_backend.ocpp.protocol import ErrorKind, OcppVersion
from cpo_backend.ocpp.v16.handlers import ChargePointHandlers

VERSION = OcppVersion(
    name="1.6",
    subprotocol="ocpp1.6",
    schema_package="ocpp.v16.schemas",
    request_suffix="",
    error_codes={
        ErrorKind.FORMAT: "FormationViolation",
        ErrorKind.OCCURRENCE_CONSTRAINT: "OccurenceConstraintViolation",
        # 1.6 has no code for a broken frame: it is not conform the PDU structure.
        ErrorKind.RPC_FRAMEWORK: "FormationViolation",
        ErrorKind.MESSAGE_TYPE_NOT_SUPPORTED: "PropertyConstraintViolation",
    },
    actions=frozenset(action.value for action in Action),
)


class Ocpp16Binding:
    version = VERSION

    def handlers(self, session: StationSession) -> object:
        return ChargePointHandlers(session)
