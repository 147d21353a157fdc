"""Id tokens: the operator's list, and the answer a charger gets about one."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import delete, insert, select, update

from cpo_backend.db.database import Database
from cpo_backend.db.tables import IdTokenRow
from cpo_backend.db.writer import WriteTx
from cpo_backend.domain.errors import AlreadyExists, NotFound
from cpo_backend.domain.model import AuthorizationStatus, IdToken, IdTokenInfo
from cpo_backend.domain.time import utc_now


class TokenExists(AlreadyExists):
    noun = "token"


class TokenNotFound(NotFound):
    noun = "token"


class ForeignTokens(Protocol):
    """Tokens issued by others (roaming partners), asked about a token the operator does
    not know; None when they do not know it either."""

    async def authorize(
        self, uid: str, station_id: str | None = None, evse_id: int | None = None
    ) -> IdTokenInfo | None: ...


class TokenService:
    def __init__(self, db: Database, foreign: ForeignTokens | None = None) -> None:
        self._db = db
        self._foreign = foreign

    async def authorize(
        self, id_token: str | None, *, station_id: str | None = None, evse_id: int | None = None
    ) -> IdTokenInfo:
        """The status a charger is told: unknown tokens are Invalid, expired ones Expired.

        ``station_id`` and ``evse_id`` say where the driver is: the OCPP EVSE (1, 2 ...),
        None or 0 (the station itself) when unknown. Only a partner token's real-time
        authorization uses them; the operator's own tokens answer from one read.
        """
        if not id_token:
            return IdTokenInfo(status=AuthorizationStatus.INVALID)
        row = await self._db.fetch_one(select(IdTokenRow).where(IdTokenRow.id_token == id_token))
        if row is None and self._foreign is not None:
            foreign = await self._foreign.authorize(id_token, station_id, evse_id or None)
            if foreign is not None:
                return foreign
        if row is None:
            return IdTokenInfo(status=AuthorizationStatus.INVALID)
        status = AuthorizationStatus(row.status)
        if (
            status == AuthorizationStatus.ACCEPTED
            and row.expiry_date is not None
            and row.expiry_date <= utc_now()
        ):
            status = AuthorizationStatus.EXPIRED
        return IdTokenInfo(status=status, expiry_date=row.expiry_date, group_id=row.group_id)

    async def create(
        self,
        id_token: str,
        *,
        token_type: str = "ISO14443",
        status: AuthorizationStatus = AuthorizationStatus.ACCEPTED,
        expiry_date: datetime | None = None,
        group_id: str | None = None,
    ) -> IdToken:
        now = utc_now()

        async def op(tx: WriteTx) -> None:
            found = await tx.execute(
                select(IdTokenRow.id_token).where(IdTokenRow.id_token == id_token)
            )
            if found.first() is not None:
                raise TokenExists(id_token)
            await tx.execute(
                insert(IdTokenRow).values(
                    id_token=id_token,
                    token_type=token_type,
                    status=status.value,
                    expiry_date=expiry_date,
                    group_id=group_id,
                    created_at=now,
                    updated_at=now,
                )
            )

        await self._db.write(op)
        return await self.get(id_token)

    async def update(self, id_token: str, **changes: Any) -> IdToken:
        values = {key: value for key, value in changes.items() if value is not None}
        if "status" in values:
            values["status"] = AuthorizationStatus(values["status"]).value
        values["updated_at"] = utc_now()

        async def op(tx: WriteTx) -> int:
            result = await tx.execute(
                update(IdTokenRow).where(IdTokenRow.id_token == id_token).values(**values)
            )
            return result.rowcount

        if await self._db.write(op) == 0:
            raise TokenNotFound(id_token)
        return await self.get(id_token)

    async def delete(self, id_token: str) -> None:
        async def op(tx: WriteTx) -> int:
            result = await tx.execute(delete(IdTokenRow).where(IdTokenRow.id_token == id_token))
            return result.rowcount

        if await self._db.write(op) == 0:
            raise TokenNotFound(id_token)

    async def get(self, id_token: str) -> IdToken:
        row = await self._db.fetch_one(select(IdTokenRow).where(IdTokenRow.id_token == id_token))
        if row is None:
            raise TokenNotFound(id_token)
        return IdToken.model_validate(row)

    async def find(self, *, offset: int = 0, limit: int = 100) -> list[IdToken]:
        rows = await self._db.fetch_all(
            select(IdTokenRow).order_by(IdTokenRow.id_token).offset(offset).limit(limit)
        )
        return [IdToken.model_validate(row) for row in rows]
