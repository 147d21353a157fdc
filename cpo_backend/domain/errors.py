"""One error hierarchy for everything a caller can be told went wrong.

Every refusal the back-end reports (to the operator API, to a roaming partner, to a
charger) is a :class:`CpoError`. Its ``kind`` says what sort of failure it is, which is
all an adapter needs to choose its protocol's answer (an HTTP status, an OCPI status
code, an OCPP CallError): each adapter maps the kinds once. Its ``code`` is a stable
word for programs, its message a sentence for people, and ``subject`` names the object
(``{"transaction": 2}``), so an error body says what happened to what.

Bugs are not CpoErrors: they stay ordinary exceptions, logged and answered as internal.
"""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar

Subject = str | int | None


class ErrorKind(StrEnum):
    # The object named does not exist (for this caller).
    NOT_FOUND = "not_found"
    # The object exists but is in a state the request does not apply to.
    CONFLICT = "conflict"
    # The request itself cannot be carried out as asked.
    INVALID = "invalid"
    # The charger is not connected.
    UNAVAILABLE = "unavailable"
    # The charger or partner did not answer in time.
    TIMEOUT = "timeout"
    # The charger or partner answered with an error.
    UPSTREAM = "upstream"


class CpoError(Exception):
    """Base of the errors a caller is told about."""

    kind: ClassVar[ErrorKind]
    code: ClassVar[str]

    def __init__(self, message: str, **subject: Subject) -> None:
        super().__init__(message)
        self.message = message
        self.subject = subject


class _AboutOne(CpoError):
    """An error about one object, named by ``noun`` and its id: ``<noun> <id> <says>``,
    with the code ``<noun>_<suffix>``."""

    noun: ClassVar[str] = "object"
    suffix: ClassVar[str]
    says: ClassVar[str]

    def __init_subclass__(cls) -> None:
        super().__init_subclass__()
        cls.code = f"{cls.noun.replace(' ', '_')}_{cls.suffix}"

    def __init__(self, identifier: Subject) -> None:
        noun = self.noun.replace(" ", "_")
        super().__init__(f"{self.noun} {identifier} {self.says}", **{noun: identifier})


class NotFound(_AboutOne):
    kind = ErrorKind.NOT_FOUND
    suffix = "not_found"
    says = "not found"


class AlreadyExists(_AboutOne):
    kind = ErrorKind.CONFLICT
    suffix = "exists"
    says = "exists already"


class Conflict(CpoError):
    kind = ErrorKind.CONFLICT
    code = "conflict"


class Invalid(CpoError):
    kind = ErrorKind.INVALID
    code = "invalid"


class Unavailable(CpoError):
    kind = ErrorKind.UNAVAILABLE
    code = "unavailable"


class Timeout(CpoError):
    kind = ErrorKind.TIMEOUT
    code = "timeout"


class UpstreamFailed(CpoError):
    kind = ErrorKind.UPSTREAM
    code = "upstream_failed"
