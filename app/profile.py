"""Editing a customer's contact details, preferred channel, language and tags.

The form is validated as a whole (every field's problem at once); the update is one transaction, guarded
against a concurrent edit, and the timeline records each changed field, old -> new.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from sqlalchemy import and_, delete, select, true, update
from sqlalchemy.ext.asyncio import AsyncConnection

from app.activity import record_activity
from app.i18n import N_, gettext
from app.keys import email_key, phone_key
from app.tables import CHANNELS, LANGUAGES, customer_contacts, customers

PROVINCES = ("AB", "BC", "MB", "NB", "NL", "NS", "NT", "NU", "ON", "PE", "QC", "SK", "YT")
MAX_TAGS = 10
MAX_TAG_LENGTH = 30
_POSTAL_CODE = re.compile(r"^([ABCEGHJ-NPRSTVXY]\d[ABCEGHJ-NPRSTV-Z]) ?(\d[ABCEGHJ-NPRSTV-Z]\d)$")

LABELS = {
    "email": N_("Email"),
    "phone": N_("Phone"),
    "address_line1": N_("Address"),
    "address_line2": N_("Address (line 2)"),
    "city": N_("City"),
    "province": N_("Province"),
    "postal_code": N_("Postal code"),
    "preferred_channel": N_("Preferred channel"),
    "language": N_("Language"),
    "tags": N_("Tags"),
}


@dataclass(frozen=True, slots=True)
class ProfileChanges:
    email: str | None
    phone: str | None
    address_line1: str | None
    address_line2: str | None
    city: str | None
    province: str | None
    postal_code: str | None
    preferred_channel: str
    language: str
    tags: tuple[str, ...]


class ProfileInvalid(ValueError):
    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{field}: {problem}" for field, problem in errors.items()))
        self.errors = errors


class StaleProfile(Exception):
    """Someone else changed the profile since the form was opened."""


def _text(form: Mapping[str, str], name: str, limit: int, errors: dict[str, str]) -> str | None:
    value = " ".join((form.get(name) or "").split())
    if len(value) > limit:
        errors[name] = gettext("Keep it under %(limit)d characters.", limit=limit)
    return value or None


def parse_profile_form(form: Mapping[str, str]) -> ProfileChanges:
    """Validate the edit form; raises ProfileInvalid with every field's problem."""
    errors: dict[str, str] = {}

    email = (form.get("email") or "").strip() or None
    if email is not None:
        try:
            email = validate_email(email, check_deliverability=False).normalized
        except EmailNotValidError as exc:
            # The validator's own explanation is in English; the message itself speaks the user's language.
            errors["email"] = gettext("Not a valid email address: %(reason)s", reason=exc)

    phone = (form.get("phone") or "").strip() or None
    if phone is not None:
        try:
            number = phonenumbers.parse(phone, "CA")
            if not phonenumbers.is_valid_number(number):
                raise phonenumbers.NumberParseException(0, "not a valid number")
        except phonenumbers.NumberParseException:
            errors["phone"] = gettext("Not a valid phone number; e.g. 514 555-0199 or +33 1 23 45 67 89.")
        else:
            national = number.country_code == 1
            phone = phonenumbers.format_number(
                number,
                phonenumbers.PhoneNumberFormat.NATIONAL
                if national
                else phonenumbers.PhoneNumberFormat.INTERNATIONAL,
            )

    address_line1 = _text(form, "address_line1", 160, errors)
    address_line2 = _text(form, "address_line2", 160, errors)
    city = _text(form, "city", 80, errors)
    province = (form.get("province") or "").strip().upper() or None
    if province is not None and province not in PROVINCES:
        errors["province"] = gettext(
            "Use a province or territory code: %(codes)s.", codes=", ".join(PROVINCES)
        )
    postal_code = (form.get("postal_code") or "").strip().upper() or None
    if postal_code is not None:
        match = _POSTAL_CODE.match(postal_code)
        if match is None:
            errors["postal_code"] = gettext("A Canadian postal code looks like H2X 1Y4.")
        else:
            postal_code = f"{match.group(1)} {match.group(2)}"

    preferred_channel = form.get("preferred_channel") or ""
    if preferred_channel not in CHANNELS:
        errors["preferred_channel"] = gettext("Choose one of: %(channels)s.", channels=", ".join(CHANNELS))
    elif preferred_channel == "email" and email is None and "email" not in errors:
        errors["preferred_channel"] = gettext("Email is preferred but there is no email address.")
    elif preferred_channel in ("sms", "phone") and phone is None and "phone" not in errors:
        errors["preferred_channel"] = (
            gettext("SMS is preferred but there is no phone number.")
            if preferred_channel == "sms"
            else gettext("Phone is preferred but there is no phone number.")
        )

    language = form.get("language") or ""
    if language not in LANGUAGES:
        errors["language"] = gettext("Choose French (fr) or English (en).")

    tags: list[str] = []
    for raw in (form.get("tags") or "").split(","):
        tag = " ".join(raw.split())
        if tag and tag.casefold() not in {existing.casefold() for existing in tags}:
            tags.append(tag)
    if any(len(tag) > MAX_TAG_LENGTH for tag in tags):
        errors["tags"] = gettext("A tag is limited to %(limit)d characters.", limit=MAX_TAG_LENGTH)
    elif len(tags) > MAX_TAGS:
        errors["tags"] = gettext("At most %(limit)d tags, separated by commas.", limit=MAX_TAGS)

    if errors:
        raise ProfileInvalid(errors)
    return ProfileChanges(
        email=email,
        phone=phone,
        address_line1=address_line1,
        address_line2=address_line2,
        city=city,
        province=province,
        postal_code=postal_code,
        preferred_channel=preferred_channel,
        language=language,
        tags=tuple(tags),
    )


async def update_profile(
    conn: AsyncConnection, customer_id: int, new: ProfileChanges, *, seen_version: datetime, actor_id: int
) -> int | None:
    """Apply the edit in the caller's transaction; the activity id, or None when nothing changed.

    Raises StaleProfile when the profile changed since `seen_version` (its updated_at when the form opened).
    """
    from app.customers import get_profile

    current = await get_profile(conn, customer_id)
    if current is None:
        raise LookupError(customer_id)
    old = ProfileChanges(
        email=current.email,
        phone=current.phone,
        address_line1=current.address_line1,
        address_line2=current.address_line2,
        city=current.city,
        province=current.province,
        postal_code=current.postal_code,
        preferred_channel=current.preferred_channel,
        language=current.language,
        tags=tuple(current.tags),
    )
    before, after = asdict(old), asdict(new)
    # The same number or address typed differently is not a change.
    for field, key in (("email", email_key), ("phone", phone_key)):
        if before[field] and after[field] and key(before[field]) == key(after[field]):
            after[field] = before[field]
    changes = {field: [before[field], after[field]] for field in before if before[field] != after[field]}
    if not changes:
        return None
    now = datetime.now(UTC)
    columns = {field: after[field] for field in changes if field not in ("email", "phone")}
    if "tags" in columns:
        columns["tags"] = list(new.tags)
    result = await conn.execute(
        update(customers)
        .where(customers.c.id == customer_id, customers.c.updated_at == seen_version)
        .values(**columns, updated_at=now)
    )
    if result.rowcount != 1:
        raise StaleProfile()
    for kind, key in (("email", email_key), ("phone", phone_key)):
        if kind in changes:
            await _set_primary_contact(conn, customer_id, kind, after[kind], key)
    readable = {
        LABELS[field]: [", ".join(value) if isinstance(value, tuple | list) else value for value in pair]
        for field, pair in changes.items()
    }
    return await record_activity(
        conn,
        customer_id=customer_id,
        kind="profile_updated",
        summary="Profile updated: " + ", ".join(readable).lower(),
        actor_id=actor_id,
        details={"changes": readable},
    )


async def _set_primary_contact(
    conn: AsyncConnection, customer_id: int, kind: str, value: str | None, key
) -> None:
    primary = and_(
        customer_contacts.c.customer_id == customer_id,
        customer_contacts.c.kind == kind,
        customer_contacts.c.is_primary == true(),
    )
    if value is None:
        await conn.execute(delete(customer_contacts).where(primary))
        return
    existing = (await conn.execute(select(customer_contacts.c.id).where(primary))).first()
    if existing is None:
        await conn.execute(
            customer_contacts.insert().values(
                customer_id=customer_id, kind=kind, value=value, search_key=key(value), is_primary=True
            )
        )
    else:
        await conn.execute(
            update(customer_contacts)
            .where(customer_contacts.c.id == existing.id)
            .values(value=value, search_key=key(value))
        )
