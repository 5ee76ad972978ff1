"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-27 17:25:41.786675
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

# Storage types as they were at this revision (the application's types may evolve; migrations must not).
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UTC_DATETIME = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql")

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", ID, nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("language", sa.String(length=2), server_default="fr", nullable=False),
        sa.Column("is_active", sa.Boolean(), server_default="1", nullable=False),
        sa.Column("session_version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("last_login_at", UTC_DATETIME, nullable=True),
        sa.CheckConstraint("language IN ('fr', 'en')", name=op.f("ck_users_language_valid")),
        sa.CheckConstraint("role IN ('advisor', 'operations', 'admin')", name=op.f("ck_users_role_valid")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", ID, nullable=False),
        sa.Column("occurred_at", UTC_DATETIME, nullable=False),
        sa.Column("user_id", ID, nullable=True),
        sa.Column("actor_email", sa.String(length=254), nullable=True),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("target_type", sa.String(length=20), nullable=True),
        sa.Column("target_id", sa.BigInteger(), nullable=True),
        sa.Column("ip_address", sa.String(length=45), nullable=True),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.Column("details", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_audit_log_user_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index(
        op.f("ix_audit_log_action_occurred_at"), "audit_log", ["action", "occurred_at"], unique=False
    )
    op.create_index(op.f("ix_audit_log_occurred_at"), "audit_log", ["occurred_at"], unique=False)
    op.create_index(
        op.f("ix_audit_log_target_type_target_id"), "audit_log", ["target_type", "target_id"], unique=False
    )
    op.create_index(
        op.f("ix_audit_log_user_id_occurred_at"), "audit_log", ["user_id", "occurred_at"], unique=False
    )

    op.create_table(
        "customers",
        sa.Column("id", ID, nullable=False),
        sa.Column("first_name", sa.String(length=80), nullable=False),
        sa.Column("last_name", sa.String(length=80), nullable=False),
        sa.Column("company", sa.String(length=160), nullable=True),
        sa.Column("name_key", sa.String(length=170), nullable=False),
        sa.Column("company_key", sa.String(length=160), nullable=True),
        sa.Column("address_line1", sa.String(length=160), nullable=True),
        sa.Column("address_line2", sa.String(length=160), nullable=True),
        sa.Column("city", sa.String(length=80), nullable=True),
        sa.Column("province", sa.String(length=2), nullable=True),
        sa.Column("postal_code", sa.String(length=10), nullable=True),
        sa.Column("country", sa.String(length=2), server_default="CA", nullable=False),
        sa.Column("preferred_channel", sa.String(length=8), server_default="email", nullable=False),
        sa.Column("language", sa.String(length=2), server_default="fr", nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("assigned_advisor_id", ID, nullable=True),
        sa.Column("status", sa.String(length=10), server_default="active", nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.CheckConstraint("language IN ('fr', 'en')", name=op.f("ck_customers_language_valid")),
        sa.CheckConstraint(
            "preferred_channel IN ('email', 'sms', 'phone')",
            name=op.f("ck_customers_preferred_channel_valid"),
        ),
        sa.CheckConstraint(
            "status IN ('active', 'inactive', 'prospect')", name=op.f("ck_customers_status_valid")
        ),
        sa.ForeignKeyConstraint(
            ["assigned_advisor_id"],
            ["users.id"],
            name=op.f("fk_customers_assigned_advisor_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customers")),
    )
    op.create_index(
        op.f("ix_customers_assigned_advisor_id"), "customers", ["assigned_advisor_id"], unique=False
    )
    op.create_index(op.f("ix_customers_company_key"), "customers", ["company_key"], unique=False)
    op.create_index(op.f("ix_customers_name_key"), "customers", ["name_key"], unique=False)

    op.create_table(
        "consent_events",
        sa.Column("id", ID, nullable=False),
        sa.Column("customer_id", ID, nullable=False),
        sa.Column("purpose", sa.String(length=24), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("action", sa.String(length=10), nullable=False),
        sa.Column("legal_basis", sa.String(length=24), nullable=False),
        sa.Column("wording_version", sa.String(length=20), nullable=False),
        sa.Column("source", sa.String(length=12), nullable=False),
        sa.Column("actor_id", ID, nullable=True),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column("occurred_at", UTC_DATETIME, nullable=False),
        sa.CheckConstraint("action IN ('granted', 'withdrawn')", name=op.f("ck_consent_events_action_valid")),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["users.id"], name=op.f("fk_consent_events_actor_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_consent_events_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_events")),
    )
    op.create_index(
        op.f("ix_consent_events_customer_id_occurred_at_id"),
        "consent_events",
        ["customer_id", "occurred_at", "id"],
        unique=False,
    )

    op.create_table(
        "consents",
        sa.Column("id", ID, nullable=False),
        sa.Column("customer_id", ID, nullable=False),
        sa.Column("purpose", sa.String(length=24), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("legal_basis", sa.String(length=24), nullable=False),
        sa.Column("wording_version", sa.String(length=20), nullable=False),
        sa.Column("source", sa.String(length=12), nullable=False),
        sa.Column("granted_at", UTC_DATETIME, nullable=True),
        sa.Column("withdrawn_at", UTC_DATETIME, nullable=True),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.CheckConstraint("channel IN ('email', 'sms', 'phone')", name=op.f("ck_consents_channel_valid")),
        sa.CheckConstraint(
            "legal_basis IN ('consent', 'contract', 'legitimate_interest', 'legal_obligation')",
            name=op.f("ck_consents_legal_basis_valid"),
        ),
        sa.CheckConstraint(
            "purpose IN ('service_reminders', 'marketing', 'satisfaction_surveys', 'partner_sharing')",
            name=op.f("ck_consents_purpose_valid"),
        ),
        sa.CheckConstraint(
            "source IN ('in_person', 'phone', 'web_form', 'email', 'paper_form', 'import')",
            name=op.f("ck_consents_source_valid"),
        ),
        sa.CheckConstraint("status IN ('granted', 'withdrawn')", name=op.f("ck_consents_status_valid")),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_consents_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consents")),
        sa.UniqueConstraint(
            "customer_id", "purpose", "channel", name=op.f("uq_consents_customer_id_purpose_channel")
        ),
    )
    op.create_table(
        "customer_activities",
        sa.Column("id", ID, nullable=False),
        sa.Column("customer_id", ID, nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("actor_id", ID, nullable=True),
        sa.Column("actor_label", sa.String(length=80), nullable=True),
        sa.Column("occurred_at", UTC_DATETIME, nullable=False),
        sa.Column("summary", sa.String(length=500), nullable=False),
        sa.Column("details", sa.JSON(), nullable=True),
        sa.Column("ref_type", sa.String(length=20), nullable=True),
        sa.Column("ref_id", sa.BigInteger(), nullable=True),
        sa.Column("pinned", sa.Boolean(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"],
            ["users.id"],
            name=op.f("fk_customer_activities_actor_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_customer_activities_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_activities")),
    )
    op.create_index(
        op.f("ix_customer_activities_customer_id_id"),
        "customer_activities",
        ["customer_id", "id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_customer_activities_customer_id_kind_occurred_at_id"),
        "customer_activities",
        ["customer_id", "kind", "occurred_at", "id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_customer_activities_customer_id_occurred_at_id"),
        "customer_activities",
        ["customer_id", "occurred_at", "id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_customer_activities_occurred_at"), "customer_activities", ["occurred_at"], unique=False
    )
    op.create_index(
        op.f("ix_customer_activities_customer_id_pinned_occurred_at_id"),
        "customer_activities",
        ["customer_id", "pinned", "occurred_at", "id"],
        unique=False,
    )

    op.create_table(
        "customer_contacts",
        sa.Column("id", ID, nullable=False),
        sa.Column("customer_id", ID, nullable=False),
        sa.Column("kind", sa.String(length=5), nullable=False),
        sa.Column("value", sa.String(length=254), nullable=False),
        sa.Column("search_key", sa.String(length=254), nullable=False),
        sa.Column("label", sa.String(length=20), server_default="home", nullable=False),
        sa.Column("is_primary", sa.Boolean(), server_default="0", nullable=False),
        sa.CheckConstraint("kind IN ('email', 'phone')", name=op.f("ck_customer_contacts_kind_valid")),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_customer_contacts_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_contacts")),
    )
    op.create_index(
        op.f("ix_customer_contacts_customer_id_kind_is_primary"),
        "customer_contacts",
        ["customer_id", "kind", "is_primary"],
        unique=False,
    )
    op.create_index(
        op.f("ix_customer_contacts_kind_search_key"),
        "customer_contacts",
        ["kind", "search_key"],
        unique=False,
    )

    op.create_table(
        "emails",
        sa.Column("id", ID, nullable=False),
        sa.Column("customer_id", ID, nullable=False),
        sa.Column("category", sa.String(length=20), nullable=False),
        sa.Column("recipient", sa.String(length=254), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("language", sa.String(length=2), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("attempts", sa.SmallInteger(), server_default="0", nullable=False),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("created_by", ID, nullable=True),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("next_attempt_at", UTC_DATETIME, nullable=True),
        sa.Column("sent_at", UTC_DATETIME, nullable=True),
        sa.CheckConstraint(
            "category IN ('transactional', 'service_reminder', 'marketing', 'satisfaction_survey')",
            name=op.f("ck_emails_category_valid"),
        ),
        sa.CheckConstraint(
            "status IN ('queued', 'sent', 'failed', 'refused')", name=op.f("ck_emails_status_valid")
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_emails_created_by_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_emails_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_emails")),
    )
    op.create_index(
        op.f("ix_emails_customer_id_created_at_id"),
        "emails",
        ["customer_id", "created_at", "id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_emails_status_next_attempt_at"), "emails", ["status", "next_attempt_at"], unique=False
    )

    op.create_table(
        "vehicles",
        sa.Column("id", ID, nullable=False),
        sa.Column("customer_id", ID, nullable=False),
        sa.Column("vin", sa.String(length=17), nullable=False),
        sa.Column("plate", sa.String(length=12), nullable=True),
        sa.Column("plate_key", sa.String(length=12), nullable=True),
        sa.Column("make", sa.String(length=40), nullable=False),
        sa.Column("model", sa.String(length=60), nullable=False),
        sa.Column("year", sa.SmallInteger(), nullable=False),
        sa.Column("color", sa.String(length=30), nullable=True),
        sa.Column("odometer_km", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_service_on", sa.Date(), nullable=True),
        sa.Column("next_service_km", sa.Integer(), nullable=True),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.CheckConstraint("odometer_km >= 0", name=op.f("ck_vehicles_odometer_positive")),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_vehicles_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vehicles")),
        sa.UniqueConstraint("vin", name=op.f("uq_vehicles_vin")),
    )
    op.create_index(op.f("ix_vehicles_customer_id"), "vehicles", ["customer_id"], unique=False)
    op.create_index(op.f("ix_vehicles_plate_key"), "vehicles", ["plate_key"], unique=False)

    op.create_table(
        "work_orders",
        sa.Column("id", ID, nullable=False),
        sa.Column("number", sa.String(length=20), nullable=False),
        sa.Column("customer_id", ID, nullable=False),
        sa.Column("vehicle_id", ID, nullable=True),
        sa.Column("status", sa.String(length=14), nullable=False),
        sa.Column("advisor_id", ID, nullable=True),
        sa.Column("technician", sa.String(length=120), nullable=True),
        sa.Column("description", sa.String(length=500), nullable=False),
        sa.Column("odometer_km", sa.Integer(), nullable=True),
        sa.Column("opened_at", UTC_DATETIME, nullable=False),
        sa.Column("closed_at", UTC_DATETIME, nullable=True),
        sa.Column("labour_cents", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("parts_cents", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("subtotal_cents", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("tax_cents", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("total_cents", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.CheckConstraint(
            "status IN ('open', 'in_progress', 'waiting_parts', 'completed', 'cancelled')",
            name=op.f("ck_work_orders_status_valid"),
        ),
        sa.ForeignKeyConstraint(
            ["advisor_id"], ["users.id"], name=op.f("fk_work_orders_advisor_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_work_orders_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["vehicle_id"],
            ["vehicles.id"],
            name=op.f("fk_work_orders_vehicle_id_vehicles"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_orders")),
        sa.UniqueConstraint("number", name=op.f("uq_work_orders_number")),
    )
    op.create_index(
        op.f("ix_work_orders_customer_id_opened_at_id"),
        "work_orders",
        ["customer_id", "opened_at", "id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_work_orders_customer_id_status_opened_at_id"),
        "work_orders",
        ["customer_id", "status", "opened_at", "id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_work_orders_vehicle_id_opened_at"), "work_orders", ["vehicle_id", "opened_at"], unique=False
    )

    op.create_table(
        "documents",
        sa.Column("id", ID, nullable=False),
        sa.Column("customer_id", ID, nullable=False),
        sa.Column("work_order_id", ID, nullable=True),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("storage_key", sa.String(length=64), nullable=False),
        sa.Column("uploaded_by", ID, nullable=True),
        sa.Column("uploaded_at", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_documents_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["uploaded_by"], ["users.id"], name=op.f("fk_documents_uploaded_by_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["work_order_id"],
            ["work_orders.id"],
            name=op.f("fk_documents_work_order_id_work_orders"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_documents")),
        sa.UniqueConstraint("storage_key", name=op.f("uq_documents_storage_key")),
    )
    op.create_index(
        op.f("ix_documents_customer_id_uploaded_at_id"),
        "documents",
        ["customer_id", "uploaded_at", "id"],
        unique=False,
    )

    op.create_table(
        "invoices",
        sa.Column("id", ID, nullable=False),
        sa.Column("number", sa.String(length=20), nullable=False),
        sa.Column("customer_id", ID, nullable=False),
        sa.Column("work_order_id", ID, nullable=True),
        sa.Column("status", sa.String(length=14), nullable=False),
        sa.Column("issued_on", sa.Date(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("subtotal_cents", sa.BigInteger(), nullable=False),
        sa.Column("gst_cents", sa.BigInteger(), nullable=False),
        sa.Column("qst_cents", sa.BigInteger(), nullable=False),
        sa.Column("total_cents", sa.BigInteger(), nullable=False),
        sa.Column("paid_cents", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("currency", sa.String(length=3), server_default="CAD", nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.CheckConstraint(
            "status IN ('draft', 'sent', 'partially_paid', 'paid', 'overdue', 'void')",
            name=op.f("ck_invoices_status_valid"),
        ),
        sa.CheckConstraint(
            "paid_cents >= 0 AND paid_cents <= total_cents", name=op.f("ck_invoices_paid_within_total")
        ),
        sa.CheckConstraint(
            "total_cents = subtotal_cents + gst_cents + qst_cents", name=op.f("ck_invoices_total_adds_up")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_invoices_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["work_order_id"],
            ["work_orders.id"],
            name=op.f("fk_invoices_work_order_id_work_orders"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoices")),
        sa.UniqueConstraint("number", name=op.f("uq_invoices_number")),
    )
    op.create_index(
        op.f("ix_invoices_customer_id_issued_on_id"),
        "invoices",
        ["customer_id", "issued_on", "id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_invoices_customer_id_status_issued_on_id"),
        "invoices",
        ["customer_id", "status", "issued_on", "id"],
        unique=False,
    )
    op.create_index(op.f("ix_invoices_status_due_on"), "invoices", ["status", "due_on"], unique=False)
    op.create_index(op.f("ix_invoices_work_order_id"), "invoices", ["work_order_id"], unique=False)

    op.create_table(
        "payments",
        sa.Column("id", ID, nullable=False),
        sa.Column("invoice_id", ID, nullable=False),
        sa.Column("customer_id", ID, nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("method", sa.String(length=10), nullable=False),
        sa.Column("reference", sa.String(length=60), nullable=True),
        sa.Column("received_at", UTC_DATETIME, nullable=False),
        sa.Column("recorded_by", ID, nullable=True),
        sa.CheckConstraint(
            "method IN ('card', 'debit', 'cash', 'cheque', 'transfer')", name=op.f("ck_payments_method_valid")
        ),
        sa.CheckConstraint("amount_cents > 0", name=op.f("ck_payments_amount_positive")),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_payments_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["invoice_id"], ["invoices.id"], name=op.f("fk_payments_invoice_id_invoices"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by"], ["users.id"], name=op.f("fk_payments_recorded_by_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments")),
    )
    op.create_index(
        op.f("ix_payments_customer_id_received_at_id"),
        "payments",
        ["customer_id", "received_at", "id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_payments_invoice_id_received_at"), "payments", ["invoice_id", "received_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_payments_invoice_id_received_at"), table_name="payments")
    op.drop_index(op.f("ix_payments_customer_id_received_at_id"), table_name="payments")

    op.drop_table("payments")
    op.drop_index(op.f("ix_invoices_work_order_id"), table_name="invoices")
    op.drop_index(op.f("ix_invoices_status_due_on"), table_name="invoices")
    op.drop_index(op.f("ix_invoices_customer_id_status_issued_on_id"), table_name="invoices")
    op.drop_index(op.f("ix_invoices_customer_id_issued_on_id"), table_name="invoices")

    op.drop_table("invoices")
    op.drop_index(op.f("ix_documents_customer_id_uploaded_at_id"), table_name="documents")

    op.drop_table("documents")
    op.drop_index(op.f("ix_work_orders_vehicle_id_opened_at"), table_name="work_orders")
    op.drop_index(op.f("ix_work_orders_customer_id_status_opened_at_id"), table_name="work_orders")
    op.drop_index(op.f("ix_work_orders_customer_id_opened_at_id"), table_name="work_orders")

    op.drop_table("work_orders")
    op.drop_index(op.f("ix_vehicles_plate_key"), table_name="vehicles")
    op.drop_index(op.f("ix_vehicles_customer_id"), table_name="vehicles")

    op.drop_table("vehicles")
    op.drop_index(op.f("ix_emails_status_next_attempt_at"), table_name="emails")
    op.drop_index(op.f("ix_emails_customer_id_created_at_id"), table_name="emails")

    op.drop_table("emails")
    op.drop_index(op.f("ix_customer_contacts_kind_search_key"), table_name="customer_contacts")
    op.drop_index(op.f("ix_customer_contacts_customer_id_kind_is_primary"), table_name="customer_contacts")

    op.drop_table("customer_contacts")
    op.drop_index(
        op.f("ix_customer_activities_customer_id_pinned_occurred_at_id"), table_name="customer_activities"
    )
    op.drop_index(op.f("ix_customer_activities_occurred_at"), table_name="customer_activities")
    op.drop_index(op.f("ix_customer_activities_customer_id_occurred_at_id"), table_name="customer_activities")
    op.drop_index(
        op.f("ix_customer_activities_customer_id_kind_occurred_at_id"), table_name="customer_activities"
    )
    op.drop_index(op.f("ix_customer_activities_customer_id_id"), table_name="customer_activities")

    op.drop_table("customer_activities")
    op.drop_table("consents")
    op.drop_index(op.f("ix_consent_events_customer_id_occurred_at_id"), table_name="consent_events")

    op.drop_table("consent_events")
    op.drop_index(op.f("ix_customers_name_key"), table_name="customers")
    op.drop_index(op.f("ix_customers_company_key"), table_name="customers")
    op.drop_index(op.f("ix_customers_assigned_advisor_id"), table_name="customers")

    op.drop_table("customers")
    op.drop_index(op.f("ix_audit_log_user_id_occurred_at"), table_name="audit_log")
    op.drop_index(op.f("ix_audit_log_target_type_target_id"), table_name="audit_log")
    op.drop_index(op.f("ix_audit_log_occurred_at"), table_name="audit_log")
    op.drop_index(op.f("ix_audit_log_action_occurred_at"), table_name="audit_log")

    op.drop_table("audit_log")
    op.drop_table("users")
