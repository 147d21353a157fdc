"""The command transport of this process: commands reach the station's live connection."""

from __future__ import annotations

from typing import Any

from cpo_backend.domain.commands import (
    ChargerError,
    Command,
    CommandError,
    CommandNotSupported,
    CommandResult,
    CommandTimeout,
    RawCall,
    StationOffline,
)
from cpo_backend.ocpp.binding import ProtocolBinding, plain_result
from cpo_backend.ocpp.connection import CallFailed, InvalidAnswer
from cpo_backend.ocpp.protocol import OcppError
from cpo_backend.ocpp.registry import ConnectionRegistry


class LocalCommandTransport:
    def __init__(
        self, registry: ConnectionRegistry, bindings: dict[str, ProtocolBinding], timeout: float
    ) -> None:
        self._registry = registry
        self._bindings = bindings
        self._timeout = timeout

    async def send(self, station_id: str, command: Command) -> CommandResult:
        connection = self._registry.get(station_id)
        if connection is None:
            raise StationOffline(f"station {station_id} is not connected")
        binding = self._bindings[connection.version.name]
        if isinstance(command, RawCall):
            action, payload = command.action, command.payload
        else:
            action, payload = binding.translate(command)
        try:
            response: dict[str, Any] = await connection.call(action, payload, self._timeout)
        except TimeoutError:
            raise CommandTimeout(
                f"station {station_id} did not answer {action} within {self._timeout} s"
            ) from None
        except CallFailed as failed:
            error = failed.error
            raise ChargerError(error.code, error.description, error.details) from None
        except OcppError as error:
            raise CommandNotSupported(f"{action}: {error.description}") from None
        except InvalidAnswer as invalid:
            raise CommandError(str(invalid)) from None
        except ConnectionError:
            raise StationOffline(f"station {station_id} disconnected") from None
        return (
            plain_result(response)
            if isinstance(command, RawCall)
            else binding.interpret(command, response)
        )
