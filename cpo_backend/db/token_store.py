"""The stored id tokens: the statements :mod:`cpo_backend.domain.tokens` runs.

The service decides what a charger is told about a token; this module knows the table
``id_tokens`` and answers in the domain's records.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, select

from cpo_backend.db.database import Database
from cpo_backend.db.keyed import insert_if_new, update_by_key
from cpo_backend.db.tables import IdTokenRow
from cpo_backend.db.writer import WriteTx
from cpo_backend.domain.model import AuthorizationStatus, IdToken


class TokenStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    # -- reads of committed data ----------------------------------------------------

    async def token(self, id_token: str) -> IdToken | None:
        row = await self._db.fetch_one(select(IdTokenRow).where(IdTokenRow.id_token == id_token))
        return IdToken.model_validate(row) if row is not None else None

    async def tokens(self, *, offset: int, limit: int) -> list[IdToken]:
        """A page of the operator's tokens, in token order."""
        rows = await self._db.fetch_all(
            select(IdTokenRow).order_by(IdTokenRow.id_token).offset(offset).limit(limit)
        )
        return [IdToken.model_validate(row) for row in rows]

    # -- steps of a write ---------------------------------------------------------------

    async def add_if_new(
        self,
        tx: WriteTx,
        id_token: str,
        *,
        token_type: str,
        status: AuthorizationStatus,
        expiry_date: datetime | None,
        group_id: str | None,
        created_at: datetime,
    ) -> bool:
        """Insert a token, last updated when it was created, unless it is stored; False then."""
        return await insert_if_new(
            tx,
            IdTokenRow.id_token,
            id_token,
            token_type=token_type,
            status=status.value,
            expiry_date=expiry_date,
            group_id=group_id,
            created_at=created_at,
            updated_at=created_at,
        )

    async def change(self, tx: WriteTx, id_token: str, **columns: Any) -> bool:
        """Set ``columns`` of the token; False when there is no such token."""
        return await update_by_key(tx, IdTokenRow.id_token, id_token, **columns)

    async def remove(self, tx: WriteTx, id_token: str) -> bool:
        """Delete the token; False when there is no such token."""
        result = await tx.execute(delete(IdTokenRow).where(IdTokenRow.id_token == id_token))
        return result.rowcount > 0
