"""Privacy consents: per purpose and channel, the current state and the append-only history of every grant
and withdrawal, with the legal basis, the wording the customer agreed to and how it was given.

`consents` holds one row per customer × purpose × channel (its current state); `consent_events` is never
updated nor deleted: it is the proof of what was agreed, when and how.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from app.activity import record_activity
from app.i18n import N_, gettext
from app.tables import (
    CHANNELS,
    CONSENT_ACTIONS,
    CONSENT_PURPOSES,
    CONSENT_SOURCES,
    consent_events,
    consents,
    customers,
    users,
)

HISTORY_LIMIT = 50
NOTE_MAX_LENGTH = 500
NOT_ASKED = "not_asked"

PURPOSE_LABELS = {
    "service_reminders": N_("Service reminders"),
    "marketing": N_("Marketing"),
    "satisfaction_surveys": N_("Satisfaction surveys"),
    "partner_sharing": N_("Sharing with partners"),
}
CHANNEL_LABELS = {"email": N_("Email"), "sms": N_("SMS"), "phone": N_("Phone")}
# The same inside a sentence: "marketing by email", "service reminders by SMS".
CHANNEL_NAMES = {"email": N_("email"), "sms": N_("SMS"), "phone": N_("phone")}
STATUS_LABELS = {"granted": N_("Granted"), "withdrawn": N_("Withdrawn"), NOT_ASKED: N_("Not asked")}
ACTION_LABELS = {"granted": N_("Granted"), "withdrawn": N_("Withdrawn")}
LEGAL_BASIS_LABELS = {
    "consent": N_("Consent"),
    "contract": N_("Contract (service relationship)"),
    "legitimate_interest": N_("Legitimate interest"),
    "legal_obligation": N_("Legal obligation"),
}
SOURCE_LABELS = {
    "in_person": N_("In person"),
    "phone": N_("By phone"),
    "web_form": N_("Web form"),
    "email": N_("By email"),
    "paper_form": N_("Paper form"),
    "import": N_("Imported"),
}

# Promotional messages, surveys and sharing with partners rest on the customer's express consent (Quebec's
# Law 25, Canada's CASL); reminders about a car we service can also rest on the service contract.
ALLOWED_BASES = {
    "service_reminders": ("contract", "legitimate_interest", "consent"),
    "marketing": ("consent",),
    "satisfaction_surveys": ("consent",),
    "partner_sharing": ("consent",),
}

# The version of the text read or shown to the customer when a consent is given now; a change of wording
# gets a new version, and each grant records the version it was given under.
CURRENT_WORDING = {
    "service_reminders": "2024-06",
    "marketing": "2024-06",
    "satisfaction_surveys": "2024-06",
    "partner_sharing": "2024-06",
}
# The current wording itself, in each language a customer may have: what the advisor reads out.
WORDING = {
    "fr": {
        "service_reminders": (
            "J'accepte que ChronoTech me rappelle par {channel} les entretiens à venir de mes véhicules."
        ),
        "marketing": (
            "J'accepte de recevoir par {channel} les offres et promotions de ChronoTech. "
            "Je peux retirer ce consentement en tout temps."
        ),
        "satisfaction_surveys": (
            "J'accepte que ChronoTech me sollicite par {channel} pour des sondages de satisfaction "
            "après mes visites."
        ),
        "partner_sharing": (
            "J'accepte que ChronoTech communique mes coordonnées à ses partenaires (assureurs, fabricants) "
            "pour me joindre par {channel}."
        ),
    },
    "en": {
        "service_reminders": (
            "I agree that ChronoTech may remind me by {channel} of my vehicles' upcoming services."
        ),
        "marketing": (
            "I agree to receive ChronoTech's offers and promotions by {channel}. "
            "I may withdraw this consent at any time."
        ),
        "satisfaction_surveys": (
            "I agree that ChronoTech may ask me by {channel} to answer satisfaction surveys after my visits."
        ),
        "partner_sharing": (
            "I agree that ChronoTech may share my contact details with its partners "
            "(insurers, manufacturers) so they can reach me by {channel}."
        ),
    },
}
WORDING_CHANNELS = {
    "fr": {"email": "courriel", "sms": "texto", "phone": "téléphone"},
    "en": {"email": "email", "sms": "text message", "phone": "phone"},
}


def consent_name(purpose: str, channel: str) -> str:
    """ "Marketing by email", in the language of the page."""
    return gettext(
        "%(purpose)s by %(channel)s",
        purpose=gettext(PURPOSE_LABELS[purpose]),
        channel=gettext(CHANNEL_NAMES[channel]),
    )


def english_consent_name(purpose: str, channel: str) -> str:
    """ "Marketing by email", always in English: what the timeline's stored summary says."""
    return f"{PURPOSE_LABELS[purpose]} by {CHANNEL_NAMES[channel]}"


def wording(purpose: str, channel: str, language: str) -> str:
    """The current wording of a consent, in the customer's language."""
    texts = WORDING.get(language, WORDING["en"])
    return texts[purpose].format(channel=WORDING_CHANNELS.get(language, WORDING_CHANNELS["en"])[channel])


@dataclass(frozen=True, slots=True)
class Consent:
    """One cell of the matrix: a purpose by a channel, as it stands now."""

    purpose: str
    channel: str
    status: str  # granted, withdrawn or not_asked
    legal_basis: str | None
    wording_version: str | None
    source: str | None
    granted_at: datetime | None
    withdrawn_at: datetime | None
    updated_at: datetime | None

    @property
    def is_granted(self) -> bool:
        return self.status == "granted"


@dataclass(frozen=True, slots=True)
class PurposeConsents:
    """A row of the matrix: one purpose, its consents in the order of CHANNELS."""

    purpose: str
    channels: tuple[Consent, ...]


@dataclass(frozen=True, slots=True)
class ConsentEvent:
    id: int
    purpose: str
    channel: str
    action: str
    legal_basis: str
    wording_version: str
    source: str
    actor: str | None
    note: str | None
    occurred_at: datetime


@dataclass(frozen=True, slots=True)
class Consents:
    customer_id: int
    language: str
    matrix: tuple[PurposeConsents, ...]
    history: tuple[ConsentEvent, ...]
    # How many older history entries exist beyond those shown.
    more_history: int

    def get(self, purpose: str, channel: str) -> Consent:
        return self.matrix[CONSENT_PURPOSES.index(purpose)].channels[CHANNELS.index(channel)]


async def load_consents(conn: AsyncConnection, customer_id: int) -> Consents:
    """Every purpose × channel (a consent never asked has status not_asked) and the latest history."""
    language = (
        await conn.execute(select(customers.c.language).where(customers.c.id == customer_id))
    ).scalar_one_or_none() or "fr"
    rows = {
        (row.purpose, row.channel): row
        for row in await conn.execute(
            select(
                consents.c.purpose,
                consents.c.channel,
                consents.c.status,
                consents.c.legal_basis,
                consents.c.wording_version,
                consents.c.source,
                consents.c.granted_at,
                consents.c.withdrawn_at,
                consents.c.updated_at,
            ).where(consents.c.customer_id == customer_id)
        )
    }
    matrix = tuple(
        PurposeConsents(
            purpose, tuple(_consent(purpose, channel, rows.get((purpose, channel))) for channel in CHANNELS)
        )
        for purpose in CONSENT_PURPOSES
    )
    history_rows = list(
        await conn.execute(
            select(
                consent_events.c.id,
                consent_events.c.purpose,
                consent_events.c.channel,
                consent_events.c.action,
                consent_events.c.legal_basis,
                consent_events.c.wording_version,
                consent_events.c.source,
                users.c.name,
                consent_events.c.note,
                consent_events.c.occurred_at,
            )
            .select_from(consent_events)
            .outerjoin(users, users.c.id == consent_events.c.actor_id)
            .where(consent_events.c.customer_id == customer_id)
            .order_by(consent_events.c.occurred_at.desc(), consent_events.c.id.desc())
            .limit(HISTORY_LIMIT + 1)
        )
    )
    more_history = 0
    if len(history_rows) > HISTORY_LIMIT:
        total = (
            await conn.execute(
                select(func.count())
                .select_from(consent_events)
                .where(consent_events.c.customer_id == customer_id)
            )
        ).scalar_one()
        more_history = total - HISTORY_LIMIT
    history = tuple(ConsentEvent(*row) for row in history_rows[:HISTORY_LIMIT])
    return Consents(customer_id, language, matrix, history, more_history)


def _consent(purpose: str, channel: str, row) -> Consent:
    if row is None:
        return Consent(purpose, channel, NOT_ASKED, None, None, None, None, None, None)
    return Consent(
        purpose,
        channel,
        row.status,
        row.legal_basis,
        row.wording_version,
        row.source,
        row.granted_at,
        row.withdrawn_at,
        row.updated_at,
    )


async def is_granted(conn: AsyncConnection, customer_id: int, purpose: str, channel: str) -> bool:
    statement = select(consents.c.status).where(
        consents.c.customer_id == customer_id, consents.c.purpose == purpose, consents.c.channel == channel
    )
    return (await conn.execute(statement)).scalar_one_or_none() == "granted"


class ConsentInvalid(ValueError):
    """The change cannot be made as asked: `errors` maps each form field to what is wrong with it."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{field}: {problem}" for field, problem in errors.items()))
        self.errors = errors


class ConsentConflict(ValueError):
    """The consent is already in the asked state (granted twice, or withdrawn when not granted)."""


@dataclass(frozen=True, slots=True)
class ConsentChange:
    consent_id: int
    event_id: int
    activity_id: int


def check_change(
    purpose: str, channel: str, action: str, legal_basis: str | None, source: str, note: str | None
) -> dict[str, str]:
    """Field-level problems of a requested change (empty when it can be made)."""
    errors: dict[str, str] = {}
    if purpose not in CONSENT_PURPOSES:
        errors["purpose"] = gettext(
            "Choose a purpose among %(purposes)s.", purposes=", ".join(CONSENT_PURPOSES)
        )
    if channel not in CHANNELS:
        errors["channel"] = gettext("Choose a channel among %(channels)s.", channels=", ".join(CHANNELS))
    if action not in CONSENT_ACTIONS:
        errors["action"] = gettext("The change must be granted or withdrawn.")
    if action == "granted" and purpose in ALLOWED_BASES and legal_basis not in ALLOWED_BASES[purpose]:
        *others, last = (gettext(LEGAL_BASIS_LABELS[basis]).lower() for basis in ALLOWED_BASES[purpose])
        allowed = gettext("%(others)s or %(last)s", others=", ".join(others), last=last) if others else last
        errors["legal_basis"] = gettext(
            "%(purpose)s can only rest on %(bases)s.", purpose=gettext(PURPOSE_LABELS[purpose]), bases=allowed
        )
    if source not in CONSENT_SOURCES:
        errors["source"] = gettext("Say how the customer gave or withdrew it (in person, by phone, …).")
    if note is not None and len(note) > NOTE_MAX_LENGTH:
        errors["note"] = gettext(
            "A note is limited to %(limit)d characters; this one has %(length)d.",
            limit=NOTE_MAX_LENGTH,
            length=len(note),
        )
    return errors


async def change_consent(
    conn: AsyncConnection,
    customer_id: int,
    *,
    purpose: str,
    channel: str,
    action: str,
    legal_basis: str | None = None,
    source: str = "in_person",
    note: str | None = None,
    actor_id: int | None = None,
    now: datetime | None = None,
) -> ConsentChange:
    """Grant or withdraw one consent inside the caller's transaction: the consents row is upserted, an event
    appended to the history and an activity entry recorded.

    Raises ConsentInvalid (bad fields) or ConsentConflict (nothing to change); the caller then rolls back,
    as a conflict found by the database may follow a statement of this transaction.
    """
    note = (note or "").strip() or None
    if action == "granted" and legal_basis is None and purpose in ALLOWED_BASES:
        legal_basis = ALLOWED_BASES[purpose][0] if len(ALLOWED_BASES[purpose]) == 1 else None
    errors = check_change(purpose, channel, action, legal_basis, source, note)
    if errors:
        raise ConsentInvalid(errors)
    now = now or datetime.now(UTC)
    where = (
        consents.c.customer_id == customer_id,
        consents.c.purpose == purpose,
        consents.c.channel == channel,
    )
    # The refusals below speak the user's language; the timeline's summary is stored in English.
    name, shown = english_consent_name(purpose, channel), consent_name(purpose, channel)

    if action == "granted":
        wording_version = CURRENT_WORDING[purpose]
        values = {
            "status": "granted",
            "legal_basis": legal_basis,
            "wording_version": wording_version,
            "source": source,
            "granted_at": now,
            "withdrawn_at": None,
            "updated_at": now,
        }
        existing = (await conn.execute(select(consents.c.id).where(*where))).scalar_one_or_none()
        if existing is None:
            # Never asked: the unique key (customer, purpose, channel) settles the race of two first grants,
            # the second insert fails once the first has committed.
            try:
                inserted = await conn.execute(
                    consents.insert().values(
                        customer_id=customer_id, purpose=purpose, channel=channel, **values
                    )
                )
            except IntegrityError:
                raise ConsentConflict(
                    gettext(
                        "%(consent)s was granted a moment ago: there is nothing to change.", consent=shown
                    )
                ) from None
            consent_id = inserted.inserted_primary_key[0]
        else:
            # Conditional on the state, so that of two concurrent grants only one changes the row.
            result = await conn.execute(
                consents.update()
                .where(consents.c.id == existing, consents.c.status != "granted")
                .values(values)
            )
            if result.rowcount != 1:
                raise ConsentConflict(
                    gettext("%(consent)s is already granted: there is nothing to change.", consent=shown)
                )
            consent_id = existing
    else:
        current = (
            await conn.execute(
                select(consents.c.id, consents.c.status, consents.c.legal_basis, consents.c.wording_version)
                .where(*where)
                .with_for_update()
            )
        ).one_or_none()
        if current is None or current.status != "granted":
            raise ConsentConflict(
                gettext(
                    "%(consent)s is not granted (was never given): there is nothing to withdraw.",
                    consent=shown,
                )
                if current is None
                else gettext(
                    "%(consent)s is not granted (is already withdrawn): there is nothing to withdraw.",
                    consent=shown,
                )
            )
        result = await conn.execute(
            consents.update()
            .where(consents.c.id == current.id, consents.c.status == "granted")
            .values(status="withdrawn", source=source, withdrawn_at=now, updated_at=now)
        )
        if result.rowcount != 1:
            raise ConsentConflict(
                gettext(
                    "%(consent)s was withdrawn a moment ago by someone else: there is nothing to withdraw.",
                    consent=shown,
                )
            )
        consent_id = current.id
        # A withdrawal is recorded against the basis and wording of the consent it ends.
        legal_basis, wording_version = current.legal_basis, current.wording_version

    event = await conn.execute(
        consent_events.insert().values(
            customer_id=customer_id,
            purpose=purpose,
            channel=channel,
            action=action,
            legal_basis=legal_basis,
            wording_version=wording_version,
            source=source,
            actor_id=actor_id,
            note=note,
            occurred_at=now,
        )
    )
    activity_id = await record_activity(
        conn,
        customer_id=customer_id,
        kind=f"consent_{action}",
        summary=f"Consent {action}: {name} ({SOURCE_LABELS[source].lower()})",
        actor_id=actor_id,
        details={
            "purpose": purpose,
            "channel": channel,
            "legal_basis": legal_basis,
            "wording_version": wording_version,
            "source": source,
            **({"note": note} if note else {}),
        },
        ref_type="consent",
        ref_id=consent_id,
        occurred_at=now,
    )
    return ConsentChange(consent_id, event.inserted_primary_key[0], activity_id)
