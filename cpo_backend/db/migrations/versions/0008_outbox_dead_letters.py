"""OCPI outbox: permanent rejections counted apart, the partner's last answer

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("ocpi_outbox") as batch:
        batch.add_column(sa.Column("rejections", sa.Integer(), server_default="0", nullable=False))
        batch.add_column(sa.Column("last_http_status", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("last_status_code", sa.Integer(), nullable=True))


def downgrade() -> None:
    # Rows of the states this revision introduced become what the code before it knows:
    # a superseded row was never to be sent again, a dead letter still owed.
    op.execute("UPDATE ocpi_outbox SET state = 'dropped' WHERE state = 'superseded'")
    op.execute("UPDATE ocpi_outbox SET state = 'pending' WHERE state = 'dead'")
    with op.batch_alter_table("ocpi_outbox") as batch:
        batch.drop_column("last_status_code")
        batch.drop_column("last_http_status")
        batch.drop_column("rejections")
