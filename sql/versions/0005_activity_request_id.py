"""customer_activities.request_id: the request that recorded the event

Lets any log line about an event (the fan-out in every process, a failure to render it) be traced back to the
request that caused it, and the request's lines to the events it recorded.

Expand only: a nullable column, which the previous version of the app, still serving while this migrates,
neither reads nor writes. On MariaDB 10.3 and later an added last column is an instant change, whatever the
size of the log.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 02:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("customer_activities") as batch_op:
        batch_op.add_column(sa.Column("request_id", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("customer_activities") as batch_op:
        batch_op.drop_column("request_id")
