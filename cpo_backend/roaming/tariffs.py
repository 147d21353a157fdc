"""Our tariffs: what the operator charges, as OCPI 2.2.1 Tariff objects.

Validation is the pricing engine's (:func:`cpo_backend.pricing.parse_tariff`), so a
tariff that can be stored can also price a session. Deleting keeps the row, flagged:
sessions that started under a tariff are priced with it even after it is withdrawn.

A tariff is stored as the operator wrote it and published with a price text (EU AFIR) in
every configured language the operator wrote none in (:func:`as_tariff`). The text is
made when the tariff is read for publishing, never stored: it cannot go stale when the
prices change, and the operator API shows the operator's own fields only.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select, update

from cpo_backend.db.database import Database
from cpo_backend.db.tables_ocpi import TariffRow
from cpo_backend.db.writer import WriteTx
from cpo_backend.domain.errors import Invalid, NotFound
from cpo_backend.domain.events import TariffChanged
from cpo_backend.domain.paging import fetch_page, updated_window
from cpo_backend.domain.time import format_utc, utc_now
from cpo_backend.pricing import (
    DEFAULT_ALT_TEXT_LANGUAGES,
    InvalidTariffError,
    Tariff,
    parse_tariff,
    render_tariff,
    with_afir_alt_text,
)

# The fields of a Tariff that are ours to set, not the operator's.
OWNED_FIELDS = ("country_code", "party_id", "id", "last_updated")
# The order of every list of tariffs: creation, then id.
_ORDER = (TariffRow.created_at, TariffRow.id)


class TariffNotFound(NotFound):
    noun = "tariff"


class TariffInvalid(Invalid):
    """The operator's tariff breaks the OCPI model; the message names the field."""

    code = "tariff_invalid"


def stored_tariff(row: Any, country_code: str, party_id: str) -> Tariff:
    """A stored row as the pricing model, as the operator wrote it, our identity filled in."""
    data = dict(row.details)
    data.update(
        country_code=country_code,
        party_id=party_id,
        id=row.id,
        last_updated=format_utc(row.last_updated),
    )
    return parse_tariff(data)


def as_tariff(
    row: Any,
    country_code: str,
    party_id: str,
    *,
    alt_text_languages: Sequence[str] = DEFAULT_ALT_TEXT_LANGUAGES,
) -> Tariff:
    """A stored row as it is published to partners: the GET lists, the pushes and the
    tariff a Session and its CDR carry all come from here, so each carries a price text
    (``tariff_alt_text``) in every one of ``alt_text_languages``, the operator's own text
    where there is one."""
    return with_afir_alt_text(stored_tariff(row, country_code, party_id), alt_text_languages)


class TariffService:
    def __init__(self, db: Database, country_code: str, party_id: str) -> None:
        self._db = db
        # Insert, or replace (and revive) a tariff; created_at stays.
        self._save = db.upsert(TariffRow, ["id"], ["details", "deleted", "last_updated"])
        self._country_code = country_code
        self._party_id = party_id

    def _tariff(self, row: Any, alt_text_languages: Sequence[str] | None = None) -> Tariff:
        """As the operator wrote it, or, given languages, as published (:func:`as_tariff`)."""
        if alt_text_languages is None:
            return stored_tariff(row, self._country_code, self._party_id)
        return as_tariff(
            row, self._country_code, self._party_id, alt_text_languages=alt_text_languages
        )

    async def put(self, tariff_id: str, data: dict[str, Any]) -> Tariff:
        """Create or replace; raises :class:`TariffInvalid` naming the bad field."""
        now = utc_now()
        fields = {key: value for key, value in data.items() if key not in OWNED_FIELDS}
        ours = {
            "country_code": self._country_code,
            "party_id": self._party_id,
            "id": tariff_id,
            "last_updated": format_utc(now),
        }
        try:
            checked = parse_tariff(fields | ours)
        except InvalidTariffError as error:
            raise TariffInvalid(str(error), tariff=tariff_id) from None
        details = {k: v for k, v in render_tariff(checked).items() if k not in OWNED_FIELDS}

        async def op(tx: WriteTx) -> None:
            tariff = {
                "id": tariff_id,
                "details": details,
                "deleted": False,
                "created_at": now,
                "last_updated": now,
            }
            await tx.execute(self._save, tariff)
            tx.emit(TariffChanged("", now, tariff_id, deleted=False))

        await self._db.write(op)
        return await self.get(tariff_id)

    async def delete(self, tariff_id: str) -> None:
        now = utc_now()

        async def op(tx: WriteTx) -> int:
            result = await tx.execute(
                update(TariffRow)
                .where(TariffRow.id == tariff_id, TariffRow.deleted.is_(False))
                .values(deleted=True, last_updated=now)
            )
            if result.rowcount:
                tx.emit(TariffChanged("", now, tariff_id, deleted=True))
            return result.rowcount

        if await self._db.write(op) == 0:
            raise TariffNotFound(tariff_id)

    async def get(self, tariff_id: str, *, include_deleted: bool = False) -> Tariff:
        query = select(TariffRow).where(TariffRow.id == tariff_id)
        if not include_deleted:
            query = query.where(TariffRow.deleted.is_(False))
        row = await self._db.fetch_one(query)
        if row is None:
            raise TariffNotFound(tariff_id)
        return self._tariff(row)

    def _live(self, updated_from: datetime | None, updated_to: datetime | None) -> Select[Any]:
        return select(TariffRow).where(
            TariffRow.deleted.is_(False),
            *updated_window(TariffRow.last_updated, updated_from, updated_to),
        )

    async def page(
        self,
        *,
        offset: int = 0,
        limit: int = 100,
        updated_from: datetime | None = None,
        updated_to: datetime | None = None,
        alt_text_languages: Sequence[str] | None = None,
    ) -> tuple[list[Tariff], int]:
        """Live tariffs, one page in creation order, and how many match in all; as
        published when ``alt_text_languages`` are given."""
        async with self._db.read() as conn:
            rows, total = await fetch_page(
                conn, self._live(updated_from, updated_to), _ORDER, offset, limit
            )
        return [self._tariff(row, alt_text_languages) for row in rows], total

    async def listed(
        self,
        *,
        updated_from: datetime | None = None,
        updated_to: datetime | None = None,
        alt_text_languages: Sequence[str] | None = None,
    ) -> list[Tariff]:
        """Every live tariff in creation order: what a version that can express only some
        of them filters before it pages (whether 2.1.1 can express a tariff is a question
        for the pricing engine, not SQL, and a page cut first would come back short); as
        published when ``alt_text_languages`` are given."""
        query = self._live(updated_from, updated_to).order_by(*_ORDER)
        return [self._tariff(row, alt_text_languages) for row in await self._db.fetch_all(query)]
