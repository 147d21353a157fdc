"""Configuration values shared by the 1.6 key store and the 2.0.1 device model.

Both protocols carry values as strings and reject writes to read-only or malformed
values, so one small typed setting serves both.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from simulators.outlet import parse_measurands


class Kind(Enum):
    """How a setting's string value is validated."""

    STRING = "string"
    INTEGER = "integer"
    BOOLEAN = "boolean"
    MEASURANDS = "MemberList"


@dataclass
class Setting:
    """One configuration value as the charger reports it."""

    value: str
    kind: Kind = Kind.STRING
    readonly: bool = False

    def accepts(self, value: str) -> bool:
        """Whether ``value`` is well-formed for this setting (read-only aside)."""
        if self.kind is Kind.INTEGER:
            return value.strip().isdigit()
        if self.kind is Kind.BOOLEAN:
            return value.lower() in ("true", "false")
        if self.kind is Kind.MEASURANDS:
            return parse_measurands(value) is not None
        return True

    @property
    def as_int(self) -> int:
        """The value as an integer (0 when not numeric)."""
        return int(self.value) if self.value.strip().isdigit() else 0

    @property
    def as_bool(self) -> bool:
        """The value as a boolean."""
        return self.value.lower() == "true"
