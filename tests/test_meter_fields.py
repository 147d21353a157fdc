"""A meter sample has one definition, ``SampledValue`` (``domain/meter.py``); the table,
the bulk insert and the API's model follow it, so a field added there and forgotten
elsewhere fails here rather than in a charger's MeterValues."""

from __future__ import annotations

from cpo_backend.db.tables import MeterValueRow
from cpo_backend.db.transaction_store import METER_VALUE_COLUMNS
from cpo_backend.domain.meter import SampledValue
from cpo_backend.domain.model import MeterValue


def test_the_table_stores_every_field_of_a_sample_and_where_it_came_from() -> None:
    columns = {column.name for column in MeterValueRow.__table__.columns} - {"id"}
    assert columns == set(METER_VALUE_COLUMNS)
    assert set(SampledValue._fields) <= columns


def test_the_api_model_shows_every_stored_field_but_the_station() -> None:
    assert set(MeterValue.model_fields) == set(METER_VALUE_COLUMNS) - {"station_id"} | {"id"}
