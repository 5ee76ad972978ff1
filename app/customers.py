"""Customers: the list, the search and the profile header."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, bindparam, select, true, tuple_, union
from sqlalchemy.ext.asyncio import AsyncConnection

from app.i18n import gettext
from app.keys import fold, phone_key, plate_key
from app.tables import customer_contacts, customers, invoices, users, vehicles, work_orders

PAGE_SIZE = 25
# Row ids are 64-bit signed integers (BIGINT; INTEGER on SQLite): a number outside that range names no row.
MAX_ID = 2**63 - 1
# Each way of matching contributes at most this many customers before they are sorted by name.
MATCH_LIMIT = 500
MIN_QUERY_LENGTH = 2
MAX_QUERY_LENGTH = 100

_PHONE_LIKE = re.compile(r"^[\d\s().+-]+$")
_CODE_LIKE = re.compile(r"^[A-Za-z0-9-]+$")


@dataclass(frozen=True, slots=True)
class CustomerRow:
    id: int
    name: str
    company: str | None
    email: str | None
    phone: str | None
    city: str | None
    status: str
    sort_key: str


@dataclass(frozen=True, slots=True)
class CustomerPage:
    rows: list[CustomerRow]
    next_after: tuple[str, int] | None


@dataclass(frozen=True, slots=True)
class Profile:
    id: int
    first_name: str
    last_name: str
    company: str | None
    email: str | None
    phone: str | None
    address_line1: str | None
    address_line2: str | None
    city: str | None
    province: str | None
    postal_code: str | None
    preferred_channel: str
    language: str
    tags: list[str]
    status: str
    advisor_name: str | None
    customer_since: datetime
    updated_at: datetime
    # When their personal data was erased on request (app.privacy), else None.
    erased_at: datetime | None = None

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}"


class QueryError(ValueError):
    """The search text cannot be used; the message says why."""


_primary_email = customer_contacts.alias("primary_email")
_primary_phone = customer_contacts.alias("primary_phone")


def _with_primary_contacts(*columns):
    return (
        select(*columns, _primary_email.c.value.label("email"), _primary_phone.c.value.label("phone"))
        .select_from(customers)
        .outerjoin(
            _primary_email,
            and_(
                _primary_email.c.customer_id == customers.c.id,
                _primary_email.c.kind == "email",
                _primary_email.c.is_primary == true(),
            ),
        )
        .outerjoin(
            _primary_phone,
            and_(
                _primary_phone.c.customer_id == customers.c.id,
                _primary_phone.c.kind == "phone",
                _primary_phone.c.is_primary == true(),
            ),
        )
    )


async def list_customers(
    conn: AsyncConnection, *, query: str = "", after: tuple[str, int] | None = None, limit: int = PAGE_SIZE
) -> CustomerPage:
    """Customers by name, optionally those matching `query`, one keyset page after `after`."""
    statement = _with_primary_contacts(
        customers.c.id,
        customers.c.first_name,
        customers.c.last_name,
        customers.c.company,
        customers.c.city,
        customers.c.status,
        customers.c.name_key,
    )
    query = query.strip()
    if query:
        statement = statement.where(customers.c.id.in_(_matching_ids(query)))
    if after is not None:
        statement = statement.where(tuple_(customers.c.name_key, customers.c.id) > tuple_(*after))
    statement = statement.order_by(customers.c.name_key, customers.c.id).limit(limit + 1)
    rows = [
        CustomerRow(
            id=row.id,
            name=f"{row.first_name} {row.last_name}",
            company=row.company,
            email=row.email,
            phone=row.phone,
            city=row.city,
            status=row.status,
            sort_key=row.name_key,
        )
        for row in await conn.execute(statement)
    ]
    next_after = (rows[limit - 1].sort_key, rows[limit - 1].id) if len(rows) > limit else None
    return CustomerPage(rows[:limit], next_after)


def check_query(query: str) -> str:
    query = query.strip()
    if len(query) > MAX_QUERY_LENGTH:
        raise QueryError(
            gettext("the search text is limited to %(limit)d characters", limit=MAX_QUERY_LENGTH)
        )
    if query and len(query) < MIN_QUERY_LENGTH:
        raise QueryError(gettext("type at least %(count)d characters to search", count=MIN_QUERY_LENGTH))
    return query


def _matching_ids(query: str):
    """The ids of customers matching `query` by any of the ways an advisor looks someone up.

    Each branch is an index range scan (prefix LIKE or equality on an indexed key), so the search costs
    the same on a large shop as on a small one; the branches are combined with UNION.
    """
    branches = []
    name = fold(query)
    tokens = name.split(" ")
    name_forms = {name}
    if len(tokens) > 1:  # "marie tremblay" finds "tremblay marie" (name_key is "last first")
        name_forms.add(" ".join([tokens[-1], *tokens[:-1]]))
    for form in name_forms:
        branches.append(select(customers.c.id).where(customers.c.name_key.startswith(form, autoescape=True)))
    branches.append(select(customers.c.id).where(customers.c.company_key.startswith(name, autoescape=True)))

    compact = query.replace(" ", "")
    if "@" in query or (_CODE_LIKE.match(compact) and any(char.isalpha() for char in compact)):
        branches.append(
            select(customer_contacts.c.customer_id).where(
                customer_contacts.c.kind == "email",
                customer_contacts.c.search_key.startswith(query.casefold(), autoescape=True),
            )
        )
    if _PHONE_LIKE.match(query) and len(digits := phone_key(query)) >= 3:
        branches.append(
            select(customer_contacts.c.customer_id).where(
                customer_contacts.c.kind == "phone",
                customer_contacts.c.search_key.startswith(digits, autoescape=True),
            )
        )
    if _CODE_LIKE.match(compact):
        code = compact.upper()
        plate = plate_key(query)
        if plate:
            branches.append(
                select(vehicles.c.customer_id).where(vehicles.c.plate_key.startswith(plate, autoescape=True))
            )
        if len(code) >= 6:
            branches.append(
                select(vehicles.c.customer_id).where(vehicles.c.vin.startswith(code, autoescape=True))
            )
        branches.append(
            select(work_orders.c.customer_id).where(work_orders.c.number.startswith(code, autoescape=True))
        )
        branches.append(
            select(invoices.c.customer_id).where(invoices.c.number.startswith(code, autoescape=True))
        )
    limited = [branch.limit(MATCH_LIMIT).subquery().select() for branch in branches]
    return union(*limited) if len(limited) > 1 else limited[0]


async def get_profile(conn: AsyncConnection, customer_id: int) -> Profile | None:
    """The profile header: one query, whatever the size of the customer's history."""
    if not 0 < customer_id <= MAX_ID:
        return None
    statement = _with_primary_contacts(
        customers.c.id,
        customers.c.first_name,
        customers.c.last_name,
        customers.c.company,
        customers.c.address_line1,
        customers.c.address_line2,
        customers.c.city,
        customers.c.province,
        customers.c.postal_code,
        customers.c.preferred_channel,
        customers.c.language,
        customers.c.tags,
        customers.c.status,
        users.c.name.label("advisor_name"),
        customers.c.created_at,
        customers.c.updated_at,
        customers.c.erased_at,
    )
    statement = statement.outerjoin(users, users.c.id == customers.c.assigned_advisor_id).where(
        customers.c.id == customer_id
    )
    row = (await conn.execute(statement)).one_or_none()
    if row is None:
        return None
    return Profile(
        id=row.id,
        first_name=row.first_name,
        last_name=row.last_name,
        company=row.company,
        email=row.email,
        phone=row.phone,
        address_line1=row.address_line1,
        address_line2=row.address_line2,
        city=row.city,
        province=row.province,
        postal_code=row.postal_code,
        preferred_channel=row.preferred_channel,
        language=row.language,
        tags=list(row.tags or []),
        status=row.status,
        advisor_name=row.advisor_name,
        customer_since=row.created_at,
        updated_at=row.updated_at,
        erased_at=row.erased_at,
    )


# Built once: SQLAlchemy keeps a statement's cache key on it, where one built per call is walked again each
# time (see app.activity's _INSERT_ACTIVITY).
_CUSTOMER_EXISTS = select(customers.c.id).where(customers.c.id == bindparam("customer_id"))


async def customer_exists(conn: AsyncConnection, customer_id: int) -> bool:
    if not 0 < customer_id <= MAX_ID:  # a URL can carry any number; the database driver cannot
        return False
    return (await conn.execute(_CUSTOMER_EXISTS, {"customer_id": customer_id})).first() is not None


@dataclass(frozen=True, slots=True)
class Contact:
    id: int
    kind: str
    value: str
    label: str
    is_primary: bool


@dataclass(frozen=True, slots=True)
class ProfileDetails:
    profile: Profile
    contacts: list[Contact]

    @property
    def emails(self) -> list[Contact]:
        return [contact for contact in self.contacts if contact.kind == "email"]

    @property
    def phones(self) -> list[Contact]:
        return [contact for contact in self.contacts if contact.kind == "phone"]


async def load_profile_details(conn: AsyncConnection, customer_id: int) -> ProfileDetails | None:
    """The profile section: the header's fields and every email address and phone number."""
    profile = await get_profile(conn, customer_id)
    if profile is None:
        return None
    statement = (
        select(
            customer_contacts.c.id,
            customer_contacts.c.kind,
            customer_contacts.c.value,
            customer_contacts.c.label,
            customer_contacts.c.is_primary,
        )
        .where(customer_contacts.c.customer_id == customer_id)
        # In the order of the (customer_id, kind, is_primary) index, the row id last: no sort.
        .order_by(customer_contacts.c.kind, customer_contacts.c.is_primary, customer_contacts.c.id)
    )
    rows = await conn.execute(statement)
    # The primary one first in each kind (a sort of the few contacts a customer has, stable on the id).
    contacts = sorted(
        (Contact(row.id, row.kind, row.value, row.label, bool(row.is_primary)) for row in rows),
        key=lambda contact: (contact.kind, not contact.is_primary),
    )
    return ProfileDetails(profile, contacts)
