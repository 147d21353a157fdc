"""What the operator API is given by the composition root."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from prometheus_client import CollectorRegistry

from cpo_backend.domain.commands import CommandService
from cpo_backend.domain.devicemodel import DeviceModelService
from cpo_backend.domain.messagelog import MessageLog
from cpo_backend.domain.stations import StationService
from cpo_backend.domain.tokens import TokenService
from cpo_backend.domain.transactions import TransactionService


@dataclass(frozen=True, slots=True)
class ApiServices:
    stations: StationService
    tokens: TokenService
    transactions: TransactionService
    commands: CommandService
    device_models: DeviceModelService
    message_log: MessageLog
    metrics: CollectorRegistry
    health: Callable[[], Awaitable[dict[str, Any]]]
    api_keys: frozenset[str]


def services(request: Request) -> ApiServices:
    found: ApiServices = request.app.state.services
    return found
