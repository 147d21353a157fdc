"""OCPP 2.0.1: transaction event journal, device model, charging state

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import cpo_backend.db.types

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ts = cpo_backend.db.types.UtcDateTime
_big_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "transaction_events",
        sa.Column("id", _big_id, autoincrement=True, nullable=False),
        sa.Column("station_id", sa.String(length=64), nullable=False),
        sa.Column("charger_transaction_id", sa.String(length=64), nullable=False),
        sa.Column("transaction_id", sa.Integer(), nullable=True),
        sa.Column("seq_no", sa.Integer(), nullable=False),
        sa.Column("event_type", sa.String(length=16), nullable=False),
        sa.Column("trigger_reason", sa.String(length=32), nullable=False),
        sa.Column("charging_state", sa.String(length=16), nullable=True),
        sa.Column("stopped_reason", sa.String(length=32), nullable=True),
        sa.Column("offline", sa.Boolean(), nullable=False),
        sa.Column("evse_id", sa.Integer(), nullable=True),
        sa.Column("connector_id", sa.Integer(), nullable=True),
        sa.Column("id_token", sa.String(length=64), nullable=True),
        sa.Column("number_of_phases_used", sa.Integer(), nullable=True),
        sa.Column("cable_max_current", sa.Integer(), nullable=True),
        sa.Column("reservation_id", sa.Integer(), nullable=True),
        sa.Column("remote_start_id", sa.Integer(), nullable=True),
        sa.Column("timestamp", _ts(timezone=True), nullable=False),
        sa.Column("received_at", _ts(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transaction_events")),
        sa.UniqueConstraint(
            "station_id",
            "charger_transaction_id",
            "seq_no",
            name=op.f("uq_transaction_events_station_id_charger_transaction_id_seq_no"),
        ),
    )
    with op.batch_alter_table("transaction_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_transaction_events_transaction_id"), ["transaction_id"], unique=False
        )

    op.create_table(
        "device_model_reports",
        sa.Column("station_id", sa.String(length=64), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("parts_received", sa.Integer(), nullable=False),
        sa.Column("last_seq_no", sa.Integer(), nullable=True),
        sa.Column("complete", sa.Boolean(), nullable=False),
        sa.Column("variables", sa.Integer(), nullable=False),
        sa.Column("generated_at", _ts(timezone=True), nullable=False),
        sa.Column("first_received_at", _ts(timezone=True), nullable=False),
        sa.Column("completed_at", _ts(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["station_id"],
            ["stations.id"],
            name=op.f("fk_device_model_reports_station_id_stations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("station_id", "request_id", name=op.f("pk_device_model_reports")),
    )
    op.create_table(
        "device_model_variables",
        sa.Column("station_id", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("component", sa.String(length=50), nullable=False),
        sa.Column("component_instance", sa.String(length=50), nullable=True),
        sa.Column("evse_id", sa.Integer(), nullable=True),
        sa.Column("connector_id", sa.Integer(), nullable=True),
        sa.Column("variable", sa.String(length=50), nullable=False),
        sa.Column("variable_instance", sa.String(length=50), nullable=True),
        sa.Column("attributes", sa.JSON(), nullable=False),
        sa.Column("characteristics", sa.JSON(), nullable=True),
        sa.Column("request_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", _ts(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["station_id"],
            ["stations.id"],
            name=op.f("fk_device_model_variables_station_id_stations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("station_id", "key", name=op.f("pk_device_model_variables")),
    )
    with op.batch_alter_table("transactions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("charging_state", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("transactions", schema=None) as batch_op:
        batch_op.drop_column("charging_state")
    op.drop_table("device_model_variables")
    op.drop_table("device_model_reports")
    with op.batch_alter_table("transaction_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_transaction_events_transaction_id"))
    op.drop_table("transaction_events")
