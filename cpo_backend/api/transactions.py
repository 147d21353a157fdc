"""Transactions: search, details with meter values, remote stop and soft stop."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import AwareDatetime, BaseModel, Field

from cpo_backend.api.services import ApiServices, services
from cpo_backend.domain.commands import Acknowledgement
from cpo_backend.domain.model import Transaction, TransactionDetails, TransactionStatus
from cpo_backend.domain.transactions import TransactionFilter

router = APIRouter(prefix="/transactions", tags=["transactions"])
Api = Annotated[ApiServices, Depends(services)]


class ForceClose(BaseModel):
    note: str | None = Field(default=None, max_length=500)


@router.get("")
async def list_transactions(
    api: Api,
    station_id: str | None = None,
    status: TransactionStatus | None = None,
    started_from: AwareDatetime | None = None,
    started_to: AwareDatetime | None = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[Transaction]:
    """Newest first. ``started_from`` is inclusive, ``started_to`` exclusive."""
    return await api.transactions.find(
        TransactionFilter(station_id, status, started_from, started_to, offset, limit)
    )


@router.get("/{transaction_id}")
async def transaction_details(api: Api, transaction_id: int) -> TransactionDetails:
    return await api.transactions.details(transaction_id)


@router.post("/{transaction_id}/remote-stop")
async def remote_stop(api: Api, transaction_id: int) -> Acknowledgement:
    """Ask the charger to stop the transaction (RemoteStopTransaction / RequestStopTransaction)."""
    return await api.commands.remote_stop(transaction_id)


@router.post("/{transaction_id}/force-close")
async def force_close(api: Api, transaction_id: int, body: ForceClose) -> Transaction:
    """Close a transaction the charger will never stop, without asking the charger."""
    return await api.transactions.force_close(transaction_id, body.note)
