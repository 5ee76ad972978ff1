"""invoices.version, work_orders.version: a number every change of the row raises

Open pages receive rows pushed as events are read, and a row rendered a moment before a change can arrive
after it; a page keeps whichever of two renderings has the higher version. Raised inside the guarded UPDATE
(under the row's lock), so it only grows, whichever transaction commits first.

Expand only: two columns with a default, which the previous version of the app ignores (it leaves the version
as it is; the next change made by this version raises it again).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 01:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for table in ("work_orders", "invoices"):
        with op.batch_alter_table(table) as batch_op:
            batch_op.add_column(sa.Column("version", sa.BigInteger(), nullable=False, server_default="1"))


def downgrade() -> None:
    for table in ("invoices", "work_orders"):
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_column("version")
