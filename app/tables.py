"""Every table and index of Customer 360, in SQLAlchemy Core: the one description of the schema.

Conventions: ids are BIGINT auto-increment (INTEGER PRIMARY KEY on SQLite, which is its rowid); money is
integer cents; instants are UTC and come back timezone-aware; calendar dates (due dates) are plain dates.
Every index is here because a section, the search or the event log reads through it; keyset pagination
needs the key columns last in the index, in the order the page sorts by.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.dialects import mysql

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

Id = BigInteger().with_variant(Integer, "sqlite")


class UTCDateTime(TypeDecorator):
    """A UTC instant: stored naive (DATETIME(6) on MySQL), always returned timezone-aware."""

    impl = DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name == "mysql":
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        return dialect.type_descriptor(DateTime())

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given for a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


def one_of(column: str, values: tuple[str, ...]) -> CheckConstraint:
    quoted = ", ".join(f"'{value}'" for value in values)
    return CheckConstraint(f"{column} IN ({quoted})", name=f"{column}_valid")


ROLES = ("advisor", "operations", "admin")
LANGUAGES = ("fr", "en")
CHANNELS = ("email", "sms", "phone")
CUSTOMER_STATUSES = ("active", "inactive", "prospect")
CONTACT_KINDS = ("email", "phone")
WORK_ORDER_STATUSES = ("open", "in_progress", "waiting_parts", "completed", "cancelled")
INVOICE_STATUSES = ("draft", "sent", "partially_paid", "paid", "overdue", "void")
PAYMENT_METHODS = ("card", "debit", "cash", "cheque", "transfer")
CONSENT_PURPOSES = ("service_reminders", "marketing", "satisfaction_surveys", "partner_sharing")
CONSENT_STATUSES = ("granted", "withdrawn")
CONSENT_ACTIONS = ("granted", "withdrawn")
LEGAL_BASES = ("consent", "contract", "legitimate_interest", "legal_obligation")
CONSENT_SOURCES = ("in_person", "phone", "web_form", "email", "paper_form", "import")
EMAIL_CATEGORIES = ("transactional", "service_reminder", "marketing", "satisfaction_survey")
EMAIL_STATUSES = ("queued", "sent", "failed", "refused")
ACTIVITY_KINDS = (
    "note",
    "call",
    "visit",
    "vehicle_added",
    "work_order_opened",
    "work_order_status",
    "invoice_issued",
    "invoice_status",
    "payment",
    "document_uploaded",
    "consent_granted",
    "consent_withdrawn",
    "email",
    "profile_updated",
)

users = Table(
    "users",
    metadata,
    Column("id", Id, primary_key=True),
    Column("email", String(254), nullable=False),
    Column("name", String(120), nullable=False),
    Column("role", String(16), nullable=False),
    Column("password_hash", String(255), nullable=False),
    Column("language", String(2), nullable=False, server_default="fr"),
    Column("is_active", Boolean, nullable=False, server_default="1"),
    # Bumped on sign-out everywhere, disable or password change: sessions carry it and die when it moves.
    Column("session_version", Integer, nullable=False, server_default="1"),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_login_at", UTCDateTime),
    UniqueConstraint("email"),
    one_of("role", ROLES),
    one_of("language", LANGUAGES),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Id, primary_key=True),
    # What the client is ("billing", "workshop"): shown in the audit trail and as the author of its entries.
    Column("name", String(60), nullable=False),
    # The account the token acts as: its role decides what the token may do; disabling it stops the token.
    Column("user_id", Id, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    # SHA-256 of the token: tokens are 256 random bits, so a fast hash is enough and a leaked table is no key.
    Column("token_hash", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime),
    UniqueConstraint("token_hash"),
    UniqueConstraint("name"),
    Index(None, "user_id"),
)

customers = Table(
    "customers",
    metadata,
    Column("id", Id, primary_key=True),
    Column("first_name", String(80), nullable=False),
    Column("last_name", String(80), nullable=False),
    Column("company", String(160)),
    # Lower-cased, accent-free "last first" and company: the prefix keys of the name search.
    Column("name_key", String(170), nullable=False),
    Column("company_key", String(160)),
    Column("address_line1", String(160)),
    Column("address_line2", String(160)),
    Column("city", String(80)),
    Column("province", String(2)),
    Column("postal_code", String(10)),
    Column("country", String(2), nullable=False, server_default="CA"),
    Column("preferred_channel", String(8), nullable=False, server_default="email"),
    Column("language", String(2), nullable=False, server_default="fr"),
    Column("tags", JSON, nullable=False),
    Column("assigned_advisor_id", Id, ForeignKey("users.id", ondelete="SET NULL")),
    Column("status", String(10), nullable=False, server_default="active"),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    # Set when the customer's personal data was erased on request (the row stays: invoices refer to it).
    Column("erased_at", UTCDateTime),
    one_of("preferred_channel", CHANNELS),
    one_of("language", LANGUAGES),
    one_of("status", CUSTOMER_STATUSES),
    Index(None, "name_key"),
    Index(None, "company_key"),
    Index(None, "assigned_advisor_id"),
)

# Every email address and phone number of a customer; search_key is the lower-cased email or the digits of
# the phone number (without a leading 1), so that "(514) 555-0199" and "514.555.0199" meet.
customer_contacts = Table(
    "customer_contacts",
    metadata,
    Column("id", Id, primary_key=True),
    Column("customer_id", Id, ForeignKey("customers.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(5), nullable=False),
    Column("value", String(254), nullable=False),
    Column("search_key", String(254), nullable=False),
    Column("label", String(20), nullable=False, server_default="home"),
    Column("is_primary", Boolean, nullable=False, server_default="0"),
    one_of("kind", CONTACT_KINDS),
    Index(None, "customer_id", "kind", "is_primary"),
    Index(None, "kind", "search_key"),
)

vehicles = Table(
    "vehicles",
    metadata,
    Column("id", Id, primary_key=True),
    Column("customer_id", Id, ForeignKey("customers.id", ondelete="CASCADE"), nullable=False),
    Column("vin", String(17), nullable=False),
    Column("plate", String(12)),
    # Upper-case plate without spaces or dashes, for the search.
    Column("plate_key", String(12)),
    Column("make", String(40), nullable=False),
    Column("model", String(60), nullable=False),
    Column("year", SmallInteger, nullable=False),
    Column("color", String(30)),
    Column("odometer_km", Integer, nullable=False, server_default="0"),
    Column("next_service_on", Date),
    Column("next_service_km", Integer),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("vin"),
    CheckConstraint("odometer_km >= 0", name="odometer_positive"),
    Index(None, "customer_id"),
    Index(None, "plate_key"),
)

work_orders = Table(
    "work_orders",
    metadata,
    Column("id", Id, primary_key=True),
    Column("number", String(20), nullable=False),
    Column("customer_id", Id, ForeignKey("customers.id", ondelete="CASCADE"), nullable=False),
    Column("vehicle_id", Id, ForeignKey("vehicles.id", ondelete="SET NULL")),
    Column("status", String(14), nullable=False),
    Column("advisor_id", Id, ForeignKey("users.id", ondelete="SET NULL")),
    Column("technician", String(120)),
    Column("description", String(500), nullable=False),
    Column("odometer_km", Integer),
    Column("opened_at", UTCDateTime, nullable=False),
    Column("closed_at", UTCDateTime),
    Column("labour_cents", BigInteger, nullable=False, server_default="0"),
    Column("parts_cents", BigInteger, nullable=False, server_default="0"),
    Column("subtotal_cents", BigInteger, nullable=False, server_default="0"),
    Column("tax_cents", BigInteger, nullable=False, server_default="0"),
    Column("total_cents", BigInteger, nullable=False, server_default="0"),
    Column("updated_at", UTCDateTime, nullable=False),
    # Raised by every change: open pages keep the higher of two renderings of the row (sql/versions/0004).
    Column("version", BigInteger, nullable=False, server_default="1"),
    UniqueConstraint("number"),
    one_of("status", WORK_ORDER_STATUSES),
    Index(None, "customer_id", "opened_at", "id"),
    Index(None, "customer_id", "status", "opened_at", "id"),
    Index(None, "vehicle_id", "opened_at"),
)

invoices = Table(
    "invoices",
    metadata,
    Column("id", Id, primary_key=True),
    Column("number", String(20), nullable=False),
    Column("customer_id", Id, ForeignKey("customers.id", ondelete="CASCADE"), nullable=False),
    Column("work_order_id", Id, ForeignKey("work_orders.id", ondelete="SET NULL")),
    Column("status", String(14), nullable=False),
    Column("issued_on", Date, nullable=False),
    Column("due_on", Date, nullable=False),
    Column("subtotal_cents", BigInteger, nullable=False),
    Column("gst_cents", BigInteger, nullable=False),
    Column("qst_cents", BigInteger, nullable=False),
    Column("total_cents", BigInteger, nullable=False),
    Column("paid_cents", BigInteger, nullable=False, server_default="0"),
    Column("currency", String(3), nullable=False, server_default="CAD"),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    # Raised by every change: open pages keep the higher of two renderings of the row (sql/versions/0004).
    Column("version", BigInteger, nullable=False, server_default="1"),
    UniqueConstraint("number"),
    one_of("status", INVOICE_STATUSES),
    CheckConstraint("total_cents = subtotal_cents + gst_cents + qst_cents", name="total_adds_up"),
    CheckConstraint("paid_cents >= 0 AND paid_cents <= total_cents", name="paid_within_total"),
    Index(None, "customer_id", "issued_on", "id"),
    Index(None, "customer_id", "status", "issued_on", "id"),
    Index(None, "work_order_id"),
    # The job that marks sent invoices overdue reads by status and due date.
    Index(None, "status", "due_on"),
)

payments = Table(
    "payments",
    metadata,
    Column("id", Id, primary_key=True),
    Column("invoice_id", Id, ForeignKey("invoices.id", ondelete="CASCADE"), nullable=False),
    Column("customer_id", Id, ForeignKey("customers.id", ondelete="CASCADE"), nullable=False),
    Column("amount_cents", BigInteger, nullable=False),
    Column("method", String(10), nullable=False),
    Column("reference", String(60)),
    Column("received_at", UTCDateTime, nullable=False),
    Column("recorded_by", Id, ForeignKey("users.id", ondelete="SET NULL")),
    one_of("method", PAYMENT_METHODS),
    CheckConstraint("amount_cents > 0", name="amount_positive"),
    Index(None, "invoice_id", "received_at"),
    Index(None, "customer_id", "received_at", "id"),
)

# The event log of DESIGN.md: a write that other pages must see inserts its entry here in the same
# transaction; the id orders events and is what pages resume from. Kinds are checked by the application
# (ACTIVITY_KINDS) rather than the database, so a new kind needs no migration.
customer_activities = Table(
    "customer_activities",
    metadata,
    Column("id", Id, primary_key=True),
    Column("customer_id", Id, ForeignKey("customers.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(24), nullable=False),
    Column("actor_id", Id, ForeignKey("users.id", ondelete="SET NULL")),
    # Who did it when not a signed-in user: "system", "ChronoTech POS", …
    Column("actor_label", String(80)),
    Column("occurred_at", UTCDateTime, nullable=False),
    Column("summary", String(500), nullable=False),
    Column("details", JSON),
    Column("ref_type", String(20)),
    Column("ref_id", BigInteger),
    # Pinned notes stay on top of the timeline.
    Column("pinned", Boolean, nullable=False, server_default="0"),
    # The request that recorded the entry (X-Request-ID, app.logs): its lines and the event's are traced.
    Column("request_id", String(64)),
    Index(None, "customer_id", "occurred_at", "id"),
    Index(None, "customer_id", "kind", "occurred_at", "id"),
    Index(None, "customer_id", "id"),
    Index(None, "customer_id", "pinned", "occurred_at", "id"),
    Index(None, "occurred_at"),
)

documents = Table(
    "documents",
    metadata,
    Column("id", Id, primary_key=True),
    Column("customer_id", Id, ForeignKey("customers.id", ondelete="CASCADE"), nullable=False),
    Column("work_order_id", Id, ForeignKey("work_orders.id", ondelete="SET NULL")),
    Column("filename", String(255), nullable=False),
    Column("content_type", String(100), nullable=False),
    Column("size_bytes", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    # Random name of the file under var/documents/: never derived from anything the user sent.
    Column("storage_key", String(64), nullable=False),
    Column("uploaded_by", Id, ForeignKey("users.id", ondelete="SET NULL")),
    Column("uploaded_at", UTCDateTime, nullable=False),
    UniqueConstraint("storage_key"),
    Index(None, "customer_id", "uploaded_at", "id"),
)

consents = Table(
    "consents",
    metadata,
    Column("id", Id, primary_key=True),
    Column("customer_id", Id, ForeignKey("customers.id", ondelete="CASCADE"), nullable=False),
    Column("purpose", String(24), nullable=False),
    Column("channel", String(8), nullable=False),
    Column("status", String(10), nullable=False),
    Column("legal_basis", String(24), nullable=False),
    Column("wording_version", String(20), nullable=False),
    Column("source", String(12), nullable=False),
    Column("granted_at", UTCDateTime),
    Column("withdrawn_at", UTCDateTime),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("customer_id", "purpose", "channel"),
    one_of("purpose", CONSENT_PURPOSES),
    one_of("channel", CHANNELS),
    one_of("status", CONSENT_STATUSES),
    one_of("legal_basis", LEGAL_BASES),
    one_of("source", CONSENT_SOURCES),
)

# Append-only: every grant and withdrawal as it was given, with the wording and basis of that moment.
consent_events = Table(
    "consent_events",
    metadata,
    Column("id", Id, primary_key=True),
    Column("customer_id", Id, ForeignKey("customers.id", ondelete="CASCADE"), nullable=False),
    Column("purpose", String(24), nullable=False),
    Column("channel", String(8), nullable=False),
    Column("action", String(10), nullable=False),
    Column("legal_basis", String(24), nullable=False),
    Column("wording_version", String(20), nullable=False),
    Column("source", String(12), nullable=False),
    Column("actor_id", Id, ForeignKey("users.id", ondelete="SET NULL")),
    Column("note", String(500)),
    Column("occurred_at", UTCDateTime, nullable=False),
    one_of("action", CONSENT_ACTIONS),
    Index(None, "customer_id", "occurred_at", "id"),
)

emails = Table(
    "emails",
    metadata,
    Column("id", Id, primary_key=True),
    Column("customer_id", Id, ForeignKey("customers.id", ondelete="CASCADE"), nullable=False),
    Column("category", String(20), nullable=False),
    Column("recipient", String(254), nullable=False),
    Column("subject", String(200), nullable=False),
    Column("body", Text, nullable=False),
    Column("language", String(2), nullable=False),
    Column("status", String(8), nullable=False),
    Column("attempts", SmallInteger, nullable=False, server_default="0"),
    Column("last_error", String(500)),
    Column("created_by", Id, ForeignKey("users.id", ondelete="SET NULL")),
    Column("created_at", UTCDateTime, nullable=False),
    Column("next_attempt_at", UTCDateTime),
    Column("sent_at", UTCDateTime),
    one_of("category", EMAIL_CATEGORIES),
    one_of("status", EMAIL_STATUSES),
    Index(None, "customer_id", "created_at", "id"),
    # The delivery worker picks queued mail by due time.
    Index(None, "status", "next_attempt_at"),
)

PRIVACY_REQUEST_KINDS = ("export", "erasure")

# A customer's requests under privacy law (access and portability, erasure): who asked for what, when it was
# done, and what it covered. Never personal data itself: counts of rows.
privacy_requests = Table(
    "privacy_requests",
    metadata,
    Column("id", Id, primary_key=True),
    Column("customer_id", Id, ForeignKey("customers.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(8), nullable=False),
    Column("requested_by", Id, ForeignKey("users.id", ondelete="SET NULL")),
    Column("requested_at", UTCDateTime, nullable=False),
    Column("completed_at", UTCDateTime),
    Column("details", JSON),
    Index(None, "customer_id", "requested_at"),
    one_of("kind", PRIVACY_REQUEST_KINDS),
)

SUPPRESSION_KINDS = ("email", "phone")

# People erased on request, so that an import does not bring them back: only a SHA-256 of each address or
# number (normalised as app.keys does), which identifies no one but recognises them.
suppressions = Table(
    "suppressions",
    metadata,
    Column("id", Id, primary_key=True),
    Column("kind", String(5), nullable=False),
    Column("value_hash", String(64), nullable=False),
    Column("privacy_request_id", Id, ForeignKey("privacy_requests.id", ondelete="SET NULL")),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("kind", "value_hash"),
    one_of("kind", SUPPRESSION_KINDS),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Id, primary_key=True),
    Column("occurred_at", UTCDateTime, nullable=False),
    Column("user_id", Id, ForeignKey("users.id", ondelete="SET NULL")),
    # Kept apart from user_id so a failed sign-in for an unknown address is still recorded.
    Column("actor_email", String(254)),
    Column("action", String(40), nullable=False),
    Column("target_type", String(20)),
    Column("target_id", BigInteger),
    Column("ip_address", String(45)),
    Column("request_id", String(64)),
    Column("details", JSON),
    Index(None, "occurred_at"),
    Index(None, "user_id", "occurred_at"),
    Index(None, "action", "occurred_at"),
    Index(None, "target_type", "target_id"),
)
