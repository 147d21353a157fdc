"""Which connection serves which station, in this process."""

from __future__ import annotations

from cpo_backend.ocpp.connection import OcppConnection


class ConnectionRegistry:
    """One live connection per station id.

    A new connection replaces the old one; the old one's cleanup must not remove its
    successor, so :meth:`remove` only acts if the connection is still the current one.
    """

    def __init__(self) -> None:
        self._connections: dict[str, OcppConnection] = {}

    def add(self, connection: OcppConnection) -> OcppConnection | None:
        """Register ``connection``; return the one it replaces, if any."""
        previous = self._connections.get(connection.station_id)
        self._connections[connection.station_id] = connection
        return previous

    def remove(self, connection: OcppConnection) -> bool:
        if self._connections.get(connection.station_id) is connection:
            del self._connections[connection.station_id]
            return True
        return False

    def get(self, station_id: str) -> OcppConnection | None:
        return self._connections.get(station_id)

    def __len__(self) -> int:
        return len(self._connections)
