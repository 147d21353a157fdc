"""The command transport of this process: commands reach the station's live connection."""

from __future__ import annotations

from typing import Any

from cpo_backend.domain.commands import (
    Answer,
    ChargerError,
    Command,
    CommandError,
    CommandNotSupported,
    CommandResult,
    CommandTimeout,
    RawAnswer,
    RawCall,
    StationOffline,
)
from cpo_backend.ocpp.binding import CommandTranslation
from cpo_backend.ocpp.connection import CallFailed, InvalidAnswer
from cpo_backend.ocpp.protocol import OcppError
from cpo_backend.ocpp.registry import ConnectionRegistry


class LocalCommandTransport:
    def __init__(
        self,
        registry: ConnectionRegistry,
        translations: dict[str, CommandTranslation],
        timeout: float,
    ) -> None:
        """``translations``: by version name, each version's ``commands`` module."""
        self._registry = registry
        self._translations = translations
        self._timeout = timeout

    async def send(self, station_id: str, command: Command[Answer]) -> Answer:
        connection = self._registry.get(station_id)
        if connection is None:
            raise StationOffline(f"station {station_id} is not connected", station=station_id)
        translation = self._translations[connection.version.name]
        if isinstance(command, RawCall):
            action, payload = command.action, command.payload
        else:
            action, payload = translation.translate(command)
        try:
            response: dict[str, Any] = await connection.call(action, payload, self._timeout)
        except TimeoutError:
            raise CommandTimeout(
                f"station {station_id} did not answer {action} within {self._timeout} s",
                station=station_id,
            ) from None
        except CallFailed as failed:
            error = failed.error
            raise ChargerError(station_id, error.code, error.description, error.details) from None
        except OcppError as error:
            raise CommandNotSupported(
                f"{action}: {error.description}", station=station_id
            ) from None
        except InvalidAnswer as invalid:
            raise CommandError(str(invalid), station=station_id) from None
        except ConnectionError:
            raise StationOffline(f"station {station_id} disconnected", station=station_id) from None
        result: CommandResult = (
            RawAnswer(response)
            if isinstance(command, RawCall)
            else translation.interpret(command, response)
        )
        expected = command.result_type()
        if not isinstance(result, expected):
            # A translation bug, not the charger's fault: said plainly rather than passed on.
            raise CommandError(f"{action} was read as {type(result).__name__}, not {expected}")
        return result
