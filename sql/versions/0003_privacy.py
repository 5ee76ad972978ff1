"""privacy requests (export, erasure), suppressions, customers.erased_at

Expand only: two new tables and a nullable column, which the previous version of the app ignores.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 21:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UTC_DATETIME = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql")

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "privacy_requests",
        sa.Column("id", ID, nullable=False),
        sa.Column("customer_id", ID, nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("requested_by", ID, nullable=True),
        sa.Column("requested_at", UTC_DATETIME, nullable=False),
        sa.Column("completed_at", UTC_DATETIME, nullable=True),
        sa.Column("details", sa.JSON(), nullable=True),
        sa.CheckConstraint("kind IN ('export', 'erasure')", name=op.f("ck_privacy_requests_kind_valid")),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_privacy_requests_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["requested_by"],
            ["users.id"],
            name=op.f("fk_privacy_requests_requested_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_privacy_requests")),
    )
    op.create_index(
        op.f("ix_privacy_requests_customer_id_requested_at"),
        "privacy_requests",
        ["customer_id", "requested_at"],
        unique=False,
    )
    op.create_table(
        "suppressions",
        sa.Column("id", ID, nullable=False),
        sa.Column("kind", sa.String(length=5), nullable=False),
        sa.Column("value_hash", sa.String(length=64), nullable=False),
        sa.Column("privacy_request_id", ID, nullable=True),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.CheckConstraint("kind IN ('email', 'phone')", name=op.f("ck_suppressions_kind_valid")),
        sa.ForeignKeyConstraint(
            ["privacy_request_id"],
            ["privacy_requests.id"],
            name=op.f("fk_suppressions_privacy_request_id_privacy_requests"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_suppressions")),
        sa.UniqueConstraint("kind", "value_hash", name=op.f("uq_suppressions_kind_value_hash")),
    )
    with op.batch_alter_table("customers") as batch_op:
        batch_op.add_column(sa.Column("erased_at", UTC_DATETIME, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("customers") as batch_op:
        batch_op.drop_column("erased_at")
    op.drop_table("suppressions")
    op.drop_index(op.f("ix_privacy_requests_customer_id_requested_at"), table_name="privacy_requests")
    op.drop_table("privacy_requests")
