"""OCPP 2.0.1: which base a device-model report was asked for

Revision ID: 0005
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("device_model_reports") as batch:
        batch.add_column(sa.Column("report_base", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("device_model_reports") as batch:
        batch.drop_column("report_base")
