"""A 2.0.1 TransactionEvent has one definition, ``TransactionEventReport``
(``domain/model.py``); the journal's table, its insert and the API's model follow it,
so a field added to the report and forgotten elsewhere fails here rather than in a
charger's TransactionEvent."""

from __future__ import annotations

from cpo_backend.db.tables import TransactionEventRow
from cpo_backend.db.transaction_event_store import JOURNAL_COLUMNS, JOURNALED_FIELDS
from cpo_backend.domain.model import TransactionEvent


def test_the_journal_stores_every_reported_field_but_the_samples() -> None:
    columns = {column.name for column in TransactionEventRow.__table__.columns} - {"id"}
    assert columns == set(JOURNAL_COLUMNS)
    assert "samples" not in JOURNALED_FIELDS  # they are meter values, stored as such


def test_the_api_model_shows_every_journaled_field_of_the_transaction() -> None:
    # The station, the charger's id and ours are the transaction's, shown with it.
    of_the_transaction = {"station_id", "charger_transaction_id", "transaction_id"}
    assert set(TransactionEvent.model_fields) == set(JOURNAL_COLUMNS) - of_the_transaction
