"""Deterministic, realistic demo and benchmark data (`customer360 seed`).

`seed(engine, customers=N)` writes N customers of a Quebec service shop with everything around them: contacts,
vehicles with valid VINs, a multi-year history of work orders, invoices (GST 5 % + QST 9.975 %), payments,
documents, consents with their event history, emails, and the activity log that ties them together. It also
creates the staff: the three demo accounts (advisor@, operations@, admin@example.com, password
`customer360-demo`) and eight more advisors. Users that already exist (by email) are reused, so seeding a
second time adds customers without failing.

Deterministic: every choice comes from `random.Random` instances derived from (seed, customer index) and from
Faker instances seeded with `seed`, never from the global generator. The history is anchored on `today`
(default: the current date in the shop's time zone): it ends the evening before, except the nightly job's
overdue marks at 00:05 on `today` itself. So the same `customers`, `seed` and `today` on an empty database
write identical rows (for the locked Faker version). Customer i's data does not depend on how many customers
are seeded; only the work-order and invoice numbers (WO-2024-000123, INV-2024-000123: sequential per year in
time order across the whole seed, continuing after the highest number already in the database) do.
`generate()` is the same generation without a database.

Fast: customers are generated in chunks of CHUNK_SIZE, in a worker thread while the database stores the
previous chunk; primary keys are assigned here (counting up from the current maximum of each table) so
children reference parents without round trips; each chunk is written in one transaction. On MySQL/MariaDB
the rows are rendered into multi-row INSERT statements sent through the raw driver (SQLAlchemy's executemany
spends most of its time escaping values one by one), with unique and foreign-key checks off for the seeding
session only; SQLite gets SQLAlchemy's executemany. Run it while nothing else writes to the database: the
primary keys are taken from MAX(id) at the start.
"""

from __future__ import annotations

import asyncio
import bisect
import hashlib
import itertools
import json
import math
import random
import re
import secrets
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from faker import Faker
from sqlalchemy import Table, func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app import keys
from app.analytics import MONTH_NAMES
from app.tables import (
    UTCDateTime,
    consent_events,
    consents,
    customer_activities,
    customer_contacts,
    customers,
    documents,
    emails,
    invoices,
    payments,
    users,
    vehicles,
    work_orders,
)
from app.users import create_user, hash_password
from app.vin import VIN_ALPHABET, with_check_digit

DEMO_PASSWORD = "customer360-demo"
SHOP_TIMEZONE = ZoneInfo("America/Toronto")
CHUNK_SIZE = 1000
DUE_DAYS = 30
_NOT_SLUG = re.compile(r"[^a-z0-9]+")

Progress = Callable[[str, int, int], None]

# (email, name, role, language): the demo sign-ins, then the advisors customers are spread over.
DEMO_USERS = (
    ("advisor@example.com", "Alex Tremblay", "advisor", "fr"),
    ("operations@example.com", "Camille Gagnon", "operations", "fr"),
    ("admin@example.com", "Dominique Roy", "admin", "fr"),
)
STAFF_ADVISORS = (
    ("marie-eve.bouchard@chronotech.example", "Marie-Ève Bouchard", "advisor", "fr"),
    ("jean-francois.cote@chronotech.example", "Jean-François Côté", "advisor", "fr"),
    ("isabelle.gagne@chronotech.example", "Isabelle Gagné", "advisor", "fr"),
    ("mathieu.lavoie@chronotech.example", "Mathieu Lavoie", "advisor", "fr"),
    ("sophie.belanger@chronotech.example", "Sophie Bélanger", "advisor", "fr"),
    ("olivier.pelletier@chronotech.example", "Olivier Pelletier", "advisor", "fr"),
    ("karen.macdonald@chronotech.example", "Karen MacDonald", "advisor", "en"),
    ("david.chen@chronotech.example", "David Chen", "advisor", "en"),
)
TECHNICIANS = (
    "Luc Bergeron",
    "Patrick Lévesque",
    "Steve Morin",
    "Nadia Fortin",
    "Kevin Ouellet",
    "Yannick Girard",
    "Maxime Caron",
    "Ryan O'Brien",
    "Simon Nadeau",
    "Éric Poulin",
)

# The column order of the row tuples built below, per table, in the order tables are written (parents first).
COLUMNS: dict[str, tuple[str, ...]] = {
    "customers": (
        "id",
        "first_name",
        "last_name",
        "company",
        "name_key",
        "company_key",
        "address_line1",
        "address_line2",
        "city",
        "province",
        "postal_code",
        "country",
        "preferred_channel",
        "language",
        "tags",
        "assigned_advisor_id",
        "status",
        "created_at",
        "updated_at",
    ),
    "customer_contacts": ("id", "customer_id", "kind", "value", "search_key", "label", "is_primary"),
    "vehicles": (
        "id",
        "customer_id",
        "vin",
        "plate",
        "plate_key",
        "make",
        "model",
        "year",
        "color",
        "odometer_km",
        "next_service_on",
        "next_service_km",
        "created_at",
    ),
    "work_orders": (
        "id",
        "number",
        "customer_id",
        "vehicle_id",
        "status",
        "advisor_id",
        "technician",
        "description",
        "odometer_km",
        "opened_at",
        "closed_at",
        "labour_cents",
        "parts_cents",
        "subtotal_cents",
        "tax_cents",
        "total_cents",
        "updated_at",
    ),
    "invoices": (
        "id",
        "number",
        "customer_id",
        "work_order_id",
        "status",
        "issued_on",
        "due_on",
        "subtotal_cents",
        "gst_cents",
        "qst_cents",
        "total_cents",
        "paid_cents",
        "currency",
        "created_at",
        "updated_at",
    ),
    "payments": (
        "id",
        "invoice_id",
        "customer_id",
        "amount_cents",
        "method",
        "reference",
        "received_at",
        "recorded_by",
    ),
    "documents": (
        "id",
        "customer_id",
        "work_order_id",
        "filename",
        "content_type",
        "size_bytes",
        "sha256",
        "storage_key",
        "uploaded_by",
        "uploaded_at",
    ),
    "consents": (
        "id",
        "customer_id",
        "purpose",
        "channel",
        "status",
        "legal_basis",
        "wording_version",
        "source",
        "granted_at",
        "withdrawn_at",
        "updated_at",
    ),
    "consent_events": (
        "id",
        "customer_id",
        "purpose",
        "channel",
        "action",
        "legal_basis",
        "wording_version",
        "source",
        "actor_id",
        "note",
        "occurred_at",
    ),
    "emails": (
        "id",
        "customer_id",
        "category",
        "recipient",
        "subject",
        "body",
        "language",
        "status",
        "attempts",
        "last_error",
        "created_by",
        "created_at",
        "next_attempt_at",
        "sent_at",
    ),
    "customer_activities": (
        "id",
        "customer_id",
        "kind",
        "actor_id",
        "actor_label",
        "occurred_at",
        "summary",
        "details",
        "ref_type",
        "ref_id",
        "pinned",
    ),
}
TABLES: dict[str, Table] = {
    table.name: table
    for table in (
        customers,
        customer_contacts,
        vehicles,
        work_orders,
        invoices,
        payments,
        documents,
        consents,
        consent_events,
        emails,
        customer_activities,
    )
}


# -- money -----------------------------------------------------------------------------------------------


def gst_cents(subtotal_cents: int) -> int:
    """GST, 5 %, rounded half up to the cent."""
    return (subtotal_cents * 5 + 50) // 100


def qst_cents(subtotal_cents: int) -> int:
    """QST, 9.975 %, rounded half up to the cent."""
    return (subtotal_cents * 9975 + 50_000) // 100_000


# -- random helpers ---------------------------------------------------------------------------------


def _between(r: random.Random, low: int, high: int) -> int:
    """r.randint(low, high), three times faster."""
    return low + int(r.random() * (high - low + 1))


class _Weighted:
    """r.choices(population, weights)[0] with the cumulative weights computed once."""

    __slots__ = ("cumulative", "population", "total")

    def __init__(self, population, weights) -> None:
        self.population = tuple(population)
        self.cumulative = list(itertools.accumulate(weights))
        self.total = self.cumulative[-1]

    def pick(self, r: random.Random):
        return self.population[bisect.bisect_right(self.cumulative, r.random() * self.total)]


# -- reference data --------------------------------------------------------------------------------------

# (make, model, WMI, weight, electric): common in Quebec driveways; WMIs are the makers' real prefixes.
MODELS = (
    ("Honda", "Civic", "2HG", 9, False),
    ("Honda", "CR-V", "2HK", 8, False),
    ("Honda", "Accord", "1HG", 2, False),
    ("Toyota", "Corolla", "2T1", 8, False),
    ("Toyota", "RAV4", "2T3", 9, False),
    ("Toyota", "Camry", "4T1", 3, False),
    ("Toyota", "Highlander", "5TD", 2, False),
    ("Ford", "F-150", "1FT", 7, False),
    ("Ford", "Escape", "1FM", 4, False),
    ("Chevrolet", "Silverado 1500", "1GC", 4, False),
    ("Chevrolet", "Equinox", "2GN", 4, False),
    ("GMC", "Sierra 1500", "3GT", 3, False),
    ("Ram", "1500", "1C6", 4, False),
    ("Dodge", "Grand Caravan", "2C4", 4, False),
    ("Jeep", "Grand Cherokee", "1C4", 3, False),
    ("Hyundai", "Elantra", "KMH", 6, False),
    ("Hyundai", "Tucson", "KM8", 5, False),
    ("Kia", "Forte", "3KP", 3, False),
    ("Kia", "Sorento", "5XY", 3, False),
    ("Mazda", "Mazda3", "3MZ", 5, False),
    ("Mazda", "CX-5", "JM3", 5, False),
    ("Nissan", "Rogue", "5N1", 6, False),
    ("Nissan", "Sentra", "3N1", 3, False),
    ("Subaru", "Outback", "4S4", 3, False),
    ("Subaru", "Forester", "JF2", 3, False),
    ("Volkswagen", "Jetta", "3VW", 4, False),
    ("Volkswagen", "Tiguan", "3VV", 3, False),
    ("Mitsubishi", "Outlander", "JA4", 3, False),
    ("Tesla", "Model 3", "5YJ", 2, True),
    ("Hyundai", "Kona électrique", "KM8", 1, True),
)
# Model-year codes (10th VIN character) cycle every 30 years from 1980.
_YEAR_CODES = "ABCDEFGHJKLMNPRSTVWXY123456789"
COLORS = (
    ("Blanc", "White", 22),
    ("Noir", "Black", 18),
    ("Gris", "Grey", 20),
    ("Argent", "Silver", 12),
    ("Bleu", "Blue", 10),
    ("Rouge", "Red", 9),
    ("Vert", "Green", 3),
    ("Brun", "Brown", 2),
    ("Beige", "Beige", 2),
    ("Orange", "Orange", 2),
)

# (city, province, FSA prefixes, area codes, weight)
CITIES = (
    ("Montréal", "QC", ("H1", "H2", "H3", "H4", "H8"), ("514", "438"), 30),
    ("Laval", "QC", ("H7",), ("450", "579"), 9),
    ("Longueuil", "QC", ("J4",), ("450", "579"), 6),
    ("Brossard", "QC", ("J4",), ("450", "579"), 3),
    ("Boucherville", "QC", ("J4",), ("450", "579"), 2),
    ("Québec", "QC", ("G1", "G2"), ("418", "581"), 8),
    ("Lévis", "QC", ("G6",), ("418", "581"), 3),
    ("Gatineau", "QC", ("J8", "J9"), ("819", "873"), 5),
    ("Sherbrooke", "QC", ("J1",), ("819", "873"), 4),
    ("Trois-Rivières", "QC", ("G8", "G9"), ("819", "873"), 3),
    ("Terrebonne", "QC", ("J6", "J7"), ("450", "579"), 4),
    ("Repentigny", "QC", ("J5", "J6"), ("450", "579"), 2),
    ("Saint-Jérôme", "QC", ("J7",), ("450", "579"), 2),
    ("Blainville", "QC", ("J7",), ("450", "579"), 2),
    ("Saint-Jean-sur-Richelieu", "QC", ("J2", "J3"), ("450", "579"), 2),
    ("Drummondville", "QC", ("J2",), ("819", "873"), 2),
    ("Granby", "QC", ("J2",), ("450", "579"), 2),
    ("Châteauguay", "QC", ("J6",), ("450", "579"), 2),
    ("Vaudreuil-Dorion", "QC", ("J7",), ("450", "579"), 2),
    ("Pointe-Claire", "QC", ("H9",), ("514", "438"), 2),
    ("Dollard-des-Ormeaux", "QC", ("H9",), ("514", "438"), 2),
    ("Ottawa", "ON", ("K1", "K2"), ("613", "343"), 6),
    ("Orléans", "ON", ("K1", "K4"), ("613", "343"), 2),
    ("Cornwall", "ON", ("K6",), ("613", "343"), 2),
    ("Hawkesbury", "ON", ("K6",), ("613", "343"), 1),
    ("Kingston", "ON", ("K7",), ("613", "343"), 1),
    ("Toronto", "ON", ("M4", "M5", "M6"), ("416", "647", "437"), 2),
    ("Mississauga", "ON", ("L5",), ("905", "289", "365"), 1),
)
_CITIES_BY_PROVINCE = {
    province: (
        tuple(city for city in CITIES if city[1] == province),
        tuple(city[4] for city in CITIES if city[1] == province),
    )
    for province in ("QC", "ON")
}
# Postal-code letters: never D, F, I, O, Q or U.
_POSTAL_LETTERS = "ABCEGHJKLMNPRSTVWXYZ"
_PLATE_LETTERS = "ABCDEFGHJKLMNPRSTVWXYZ"
QC_STREETS = (
    "rue Saint-Denis",
    "rue Sherbrooke Est",
    "rue Notre-Dame Ouest",
    "boulevard René-Lévesque",
    "avenue du Parc",
    "rue Principale",
    "rue de l'Église",
    "boulevard des Laurentides",
    "chemin de la Côte-Sainte-Catherine",
    "rue des Érables",
    "rue Saint-Hubert",
    "boulevard Saint-Laurent",
    "avenue Papineau",
    "rue Beaubien Est",
    "boulevard Taschereau",
    "rue King Ouest",
    "boulevard Curé-Labelle",
    "rue Jean-Talon Est",
    "montée Saint-François",
    "rang du Bas-de-l'Assomption",
    "rue des Pins",
    "avenue des Bouleaux",
    "rue Wellington",
    "boulevard de la Concorde",
    "rue Fleury Est",
    "rue Masson",
    "chemin Sainte-Foy",
    "boulevard Hamel",
    "rue Racine",
    "avenue Cartier",
    "rue Lajeunesse",
    "boulevard Gouin Ouest",
    "rue Jacques-Cartier",
    "rue du Couvent",
    "rue Champlain",
    "boulevard Sir-Wilfrid-Laurier",
    "rue Saint-Charles Ouest",
    "chemin du Lac",
    "rue des Lilas",
    "boulevard Maloney Ouest",
)
ON_STREETS = (
    "Bank Street",
    "King Street West",
    "Main Street",
    "Queen Street",
    "Maple Avenue",
    "Carling Avenue",
    "Montreal Road",
    "Pitt Street",
    "Princess Street",
    "Elgin Street",
    "Second Street East",
    "Churchill Avenue",
    "St. Laurent Boulevard",
    "Innes Road",
    "Dundas Street",
    "Bloor Street West",
    "Lakeshore Road",
    "Cedar Crescent",
    "Riverside Drive",
    "Oak Street",
)
EMAIL_DOMAINS = ("example.com", "example.net", "example.org", "courriel.example", "mail.example")
TAGS_PERSONAL = (
    ("fidèle", 20),
    ("pneus-entreposés", 25),
    ("rappel-hiver", 10),
    ("VIP", 4),
    ("voiture-de-courtoisie", 6),
    ("garantie-prolongée", 8),
    ("paiement-différé", 3),
    ("référé", 6),
    ("nouveau", 5),
    ("ne-pas-relancer", 2),
)
TAGS_COMPANY = (("flotte", 50), ("compte-commercial", 40), ("facturation-mensuelle", 15))

# (code, French, English, labour tenths of an hour, parts cents, electric-friendly, months or None)
SERVICES = (
    ("oil", "Changement d'huile et filtre", "Oil and filter change", (4, 7), (3500, 9000), False, None),
    ("inspection", "Inspection multipoints", "Multi-point inspection", (5, 10), (0, 0), True, None),
    (
        "winter_tires",
        "Pose des pneus d'hiver et équilibrage",
        "Winter tire installation and balancing",
        (8, 12),
        (0, 2500),
        True,
        (10, 11, 12),
    ),
    (
        "summer_tires",
        "Pose des pneus d'été et équilibrage",
        "Summer tire installation and balancing",
        (8, 12),
        (0, 2500),
        True,
        (4, 5, 6),
    ),
    (
        "new_tires",
        "Quatre pneus neufs installés",
        "Four new tires installed",
        (10, 15),
        (60000, 140000),
        True,
        None,
    ),
    (
        "front_brakes",
        "Plaquettes et disques avant",
        "Front brake pads and rotors",
        (15, 25),
        (15000, 38000),
        True,
        None,
    ),
    (
        "rear_brakes",
        "Plaquettes et disques arrière",
        "Rear brake pads and rotors",
        (15, 25),
        (14000, 32000),
        True,
        None,
    ),
    ("battery", "Remplacement de la batterie", "Battery replacement", (4, 8), (16000, 28000), False, None),
    ("alignment", "Alignement des roues", "Wheel alignment", (10, 12), (0, 0), True, None),
    ("ac", "Recharge de la climatisation", "A/C recharge", (8, 12), (4000, 12000), True, (5, 6, 7, 8)),
    (
        "diagnostic",
        "Diagnostic du voyant moteur",
        "Check-engine light diagnostic",
        (10, 15),
        (0, 0),
        False,
        None,
    ),
    (
        "timing_belt",
        "Remplacement de la courroie de distribution",
        "Timing belt replacement",
        (35, 50),
        (30000, 70000),
        False,
        None,
    ),
    (
        "rustproofing",
        "Traitement antirouille",
        "Rust-proofing treatment",
        (10, 15),
        (8000, 15000),
        True,
        (9, 10, 11),
    ),
    ("coolant", "Vidange du liquide de refroidissement", "Coolant flush", (8, 12), (3000, 6000), True, None),
    (
        "transmission",
        "Vidange de l'huile de transmission",
        "Transmission fluid change",
        (10, 15),
        (8000, 16000),
        False,
        None,
    ),
    (
        "shocks",
        "Remplacement des amortisseurs avant",
        "Front shock absorbers",
        (20, 35),
        (30000, 60000),
        True,
        None,
    ),
    (
        "exhaust",
        "Réparation du système d'échappement",
        "Exhaust system repair",
        (10, 25),
        (10000, 45000),
        False,
        None,
    ),
    (
        "wipers",
        "Balais d'essuie-glace et ampoules",
        "Wiper blades and bulbs",
        (2, 4),
        (3000, 8000),
        True,
        None,
    ),
    ("saaq", "Inspection mécanique SAAQ", "SAAQ mechanical inspection", (10, 15), (0, 0), True, None),
    (
        "bearing",
        "Remplacement d'un roulement de roue",
        "Wheel bearing replacement",
        (15, 25),
        (12000, 30000),
        True,
        None,
    ),
    ("cabin_filter", "Filtre à air d'habitacle", "Cabin air filter", (2, 3), (2500, 5000), True, None),
)
_SERVICE_BASE_WEIGHT = {
    "oil": 30,
    "inspection": 10,
    "new_tires": 4,
    "front_brakes": 7,
    "rear_brakes": 5,
    "battery": 4,
    "alignment": 5,
    "diagnostic": 6,
    "timing_belt": 1,
    "coolant": 2,
    "transmission": 2,
    "shocks": 2,
    "exhaust": 2,
    "wipers": 3,
    "saaq": 1,
    "bearing": 2,
    "cabin_filter": 3,
}


def _services_by_month() -> dict[tuple[int, bool], _Weighted]:
    """The services and their weights for each (month, electric)."""
    table = {}
    for month in range(1, 13):
        for electric in (False, True):
            chosen = []
            for service in SERVICES:
                if electric and not service[5]:
                    continue
                months = service[6]
                if months is None:
                    weight = _SERVICE_BASE_WEIGHT[service[0]]
                elif month in months:
                    weight = 60 if service[0].endswith("tires") else 8
                else:
                    continue
                chosen.append((service, weight))
            table[month, electric] = _Weighted((s for s, _ in chosen), (w for _, w in chosen))
    return table


_SERVICES_BY_MONTH = _services_by_month()

WORDING_VERSIONS = (
    (date(2018, 5, 1), "2018-05"),
    (date(2021, 1, 15), "2021-01"),
    (date(2023, 1, 1), "2023-01"),
)
WORDING_LATEST = "2024-06"
WORDING_LATEST_FROM = date(2024, 6, 1)

# (purpose, channel, probability of a first grant)
CONSENT_PLAN = (
    ("service_reminders", "email", 0.9),
    ("service_reminders", "sms", 0.45),
    ("service_reminders", "phone", 0.1),
    ("marketing", "email", 0.45),
    ("marketing", "sms", 0.15),
    ("satisfaction_surveys", "email", 0.5),
    ("satisfaction_surveys", "sms", 0.1),
    ("partner_sharing", "email", 0.05),
)
WITHDRAW_PROBABILITY = {
    "service_reminders": 0.05,
    "marketing": 0.22,
    "satisfaction_surveys": 0.15,
    "partner_sharing": 0.3,
}
EMAIL_ERRORS = (
    "550 5.1.1 The email account that you tried to reach does not exist",
    "552 5.2.2 Mailbox full",
    "Connection to the mail server timed out after 30 s",
    "421 4.7.0 Temporary deferral, try again later",
    "554 5.7.1 Message rejected as spam",
)

# -- texts in the customer's language ---------------------------------------------------------------

MONTHS = {
    "fr": (
        "janvier",
        "février",
        "mars",
        "avril",
        "mai",
        "juin",
        "juillet",
        "août",
        "septembre",
        "octobre",
        "novembre",
        "décembre",
    ),
    "en": MONTH_NAMES,
}
TEXT = {
    "fr": {
        "created": "Dossier client créé",
        "vehicle_added": "Véhicule ajouté : {year} {make} {model} ({plate})",
        "wo_opened": "Bon de travail {number} ouvert : {description}",
        "wo_status": "Bon de travail {number} : {status}",
        "invoice_issued": "Facture {number} émise : {amount}",
        "invoice_status": "Facture {number} : {status}",
        "payment": "Paiement de {amount} reçu ({method}) pour la facture {number}",
        "document": "Document ajouté : {filename}",
        "consent_granted": "Consentement accordé : {purpose} par {channel}",
        "consent_withdrawn": "Consentement retiré : {purpose} par {channel}",
        "email_sent": "Courriel envoyé : {subject}",
        "email_failed": "Échec de l'envoi du courriel : {subject}",
    },
    "en": {
        "created": "Customer record created",
        "vehicle_added": "Vehicle added: {year} {make} {model} ({plate})",
        "wo_opened": "Work order {number} opened: {description}",
        "wo_status": "Work order {number}: {status}",
        "invoice_issued": "Invoice {number} issued: {amount}",
        "invoice_status": "Invoice {number}: {status}",
        "payment": "Payment of {amount} received ({method}) for invoice {number}",
        "document": "Document added: {filename}",
        "consent_granted": "Consent granted: {purpose} by {channel}",
        "consent_withdrawn": "Consent withdrawn: {purpose} by {channel}",
        "email_sent": "Email sent: {subject}",
        "email_failed": "Email could not be delivered: {subject}",
    },
}
WO_STATUS_LABELS = {
    "fr": {
        "open": "ouvert",
        "in_progress": "travaux en cours",
        "waiting_parts": "en attente de pièces",
        "completed": "travaux terminés",
        "cancelled": "annulé",
    },
    "en": {
        "open": "open",
        "in_progress": "work in progress",
        "waiting_parts": "waiting for parts",
        "completed": "work completed",
        "cancelled": "cancelled",
    },
}
INVOICE_STATUS_LABELS = {
    "fr": {
        "sent": "envoyée",
        "partially_paid": "partiellement payée",
        "paid": "payée",
        "overdue": "en souffrance",
        "void": "annulée",
    },
    "en": {
        "sent": "sent",
        "partially_paid": "partially paid",
        "paid": "paid",
        "overdue": "overdue",
        "void": "void",
    },
}
METHOD_LABELS = {
    "fr": {
        "card": "carte de crédit",
        "debit": "Interac",
        "cash": "comptant",
        "cheque": "chèque",
        "transfer": "virement",
    },
    "en": {
        "card": "credit card",
        "debit": "Interac debit",
        "cash": "cash",
        "cheque": "cheque",
        "transfer": "transfer",
    },
}
PURPOSE_LABELS = {
    "fr": {
        "service_reminders": "rappels d'entretien",
        "marketing": "offres promotionnelles",
        "satisfaction_surveys": "sondages de satisfaction",
        "partner_sharing": "partage avec nos partenaires",
    },
    "en": {
        "service_reminders": "service reminders",
        "marketing": "promotional offers",
        "satisfaction_surveys": "satisfaction surveys",
        "partner_sharing": "sharing with our partners",
    },
}
CHANNEL_LABELS = {
    "fr": {"email": "courriel", "sms": "texto", "phone": "téléphone"},
    "en": {"email": "email", "sms": "text message", "phone": "phone"},
}
NOTES = {
    "fr": (
        "Le client demande un rappel avant l'hiver pour la pose des pneus.",
        "Préfère être contacté en fin d'après-midi.",
        "A mentionné un bruit de frottement à l'avant lors du freinage.",
        "Pneus d'hiver entreposés chez nous, 4 x 17 po sur jantes.",
        "Demande une soumission pour un traitement antirouille.",
        "Voiture de courtoisie demandée pour la prochaine visite.",
        "Client satisfait du service, aucun suivi requis.",
        "Vérifier la garantie prolongée au prochain passage.",
        "Le client attendra sur place : prévoir le salon client.",
        "Pare-brise fissuré côté passager, à surveiller.",
        "Le client souhaite regrouper les travaux lors d'une seule visite.",
        "Rappel : le client apporte ses propres essuie-glaces.",
        "Usure inégale des pneus avant, proposer un alignement.",
        "Fuite d'huile légère notée sous le moteur.",
        "Le client a demandé une copie de toutes ses factures de l'année.",
    ),
    "en": (
        "Customer asks for a reminder before winter for the tire swap.",
        "Prefers to be called late in the afternoon.",
        "Mentioned a grinding noise at the front when braking.",
        "Winter tires stored with us, 4 x 17 in. on rims.",
        "Asked for a quote on rust-proofing.",
        "Courtesy car requested for the next visit.",
        "Customer happy with the service, no follow-up needed.",
        "Check the extended warranty at the next visit.",
        "Customer will wait on site: book the lounge.",
        "Cracked windshield on the passenger side, keep an eye on it.",
        "Customer wants all the work grouped into a single visit.",
        "Reminder: customer brings their own wiper blades.",
        "Uneven wear on the front tires, suggest an alignment.",
        "Slight oil leak noticed under the engine.",
        "Customer asked for a copy of all this year's invoices.",
    ),
}
PINNABLE_NOTES = (1, 3, 7, 11)  # preferences and standing facts, by position in NOTES
# (French, English, direction)
CALLS = (
    (
        "Appel entrant : demande de rendez-vous pour la pose des pneus",
        "Inbound call: booking a tire swap",
        "in",
    ),
    (
        "Appel entrant : question sur la dernière facture",
        "Inbound call: question about the last invoice",
        "in",
    ),
    ("Appel entrant : demande de soumission pour les freins", "Inbound call: asking for a brake quote", "in"),
    ("Appel sortant : véhicule prêt à être récupéré", "Outbound call: vehicle ready for pick-up", "out"),
    (
        "Appel sortant : rappel de rendez-vous pour demain",
        "Outbound call: appointment reminder for tomorrow",
        "out",
    ),
    ("Appel sortant : message laissé dans la boîte vocale", "Outbound call: left a voicemail", "out"),
    (
        "Appel sortant : approbation de travaux supplémentaires",
        "Outbound call: approval for extra work",
        "out",
    ),
    (
        "Appel entrant : voyant allumé au tableau de bord",
        "Inbound call: warning light on the dashboard",
        "in",
    ),
    (
        "Appel sortant : suivi après la dernière visite",
        "Outbound call: follow-up after the last visit",
        "out",
    ),
    ("Appel entrant : changement de l'heure du rendez-vous", "Inbound call: moving the appointment", "in"),
)
VISITS = (
    ("Passage au comptoir : achat de balais d'essuie-glace", "Counter visit: bought wiper blades", "counter"),
    (
        "Visite sans rendez-vous : vérification de la pression des pneus",
        "Walk-in: tire pressure check",
        "walk_in",
    ),
    ("Passage pour récupérer les pneus entreposés", "Came by to pick up stored tires", "tires"),
    ("Visite pour une estimation de carrosserie", "Visit for a body-work estimate", "estimate"),
    ("Passage au comptoir : achat de lave-glace", "Counter visit: bought washer fluid", "counter"),
    ("Visite sans rendez-vous : ampoule de phare grillée", "Walk-in: burnt-out headlight bulb", "walk_in"),
)
PROFILE_UPDATES = (
    ("Adresse mise à jour", "Address updated", ("address_line1", "postal_code")),
    ("Numéro de téléphone mis à jour", "Phone number updated", ("phone",)),
    ("Adresse courriel mise à jour", "Email address updated", ("email",)),
    ("Canal de communication préféré modifié", "Preferred channel changed", ("preferred_channel",)),
    ("Étiquettes du dossier modifiées", "Tags changed", ("tags",)),
)
OTHER_DOCUMENTS = (
    (
        "certificat-inspection-saaq.pdf",
        "saaq-inspection-certificate.pdf",
        "application/pdf",
        (80_000, 400_000),
    ),
    ("garantie-prolongee.pdf", "extended-warranty.pdf", "application/pdf", (150_000, 900_000)),
    ("photo-pare-brise.jpg", "windshield-photo.jpg", "image/jpeg", (900_000, 4_500_000)),
    ("soumission-carrosserie.pdf", "bodywork-quote.pdf", "application/pdf", (60_000, 300_000)),
    ("immatriculation.jpg", "registration.jpg", "image/jpeg", (400_000, 2_500_000)),
)
MARKETING = {
    # month -> (French subject, English subject)
    "winter": ("Pneus d'hiver : réservez votre pose dès maintenant", "Winter tires: book your swap now"),
    "spring": ("Le printemps arrive : pose des pneus d'été", "Spring is here: summer tire swap"),
    "rust": ("Traitement antirouille : 15 % de rabais en septembre", "Rust-proofing: 15% off in September"),
    "ac": ("Vérification gratuite de votre climatisation", "Free A/C check-up"),
    "news": ("Les nouvelles de ChronoTech", "ChronoTech news"),
}
SIGNATURE = {"fr": "L'équipe ChronoTech", "en": "The ChronoTech team"}


def _money(cents: int, language: str) -> str:
    dollars, cents = divmod(cents, 100)
    if language == "fr":
        return f"{dollars:,}".replace(",", "\u00a0") + f",{cents:02d}\u00a0$"
    return f"${dollars:,}.{cents:02d}"


def _long_date(day: int, language: str) -> str:
    d = date.fromordinal(day)
    if language == "fr":
        return f"{d.day} {MONTHS['fr'][d.month - 1]} {d.year}"
    return f"{MONTHS['en'][d.month - 1]} {d.day}, {d.year}"


def _wording_version(day: int) -> str:
    d = date.fromordinal(day)
    if d >= WORDING_LATEST_FROM:
        return WORDING_LATEST
    version = WORDING_VERSIONS[0][1]
    for start, name in WORDING_VERSIONS:
        if d >= start:
            version = name
    return version


def _slug(text: str) -> str:
    """ASCII, lower-case, hyphen-separated: "Lavoie & Fils inc." -> "lavoie-fils-inc"."""
    return _NOT_SLUG.sub("-", keys.fold(text)).strip("-")


# -- name pools ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Names:
    male: tuple[str, ...]
    female: tuple[str, ...]
    last: tuple[str, ...]


@lru_cache(maxsize=4)
def _name_pools(seed: int) -> dict[str, _Names]:
    """First and last names per language, drawn once from seeded Faker instances (Faker per row is slow)."""
    pools = {}
    for language, locale in (("fr", "fr_CA"), ("en", "en_CA")):
        fake = Faker(locale)
        fake.seed_instance(seed)
        pools[language] = _Names(
            male=tuple(sorted({fake.first_name_male() for _ in range(600)})),
            female=tuple(sorted({fake.first_name_female() for _ in range(600)})),
            last=tuple(sorted({fake.last_name() for _ in range(1500)})),
        )
    return pools


def vehicle_vin(vehicle_id: int, wmi: str, descriptor: str, year: int) -> str:
    """A valid VIN that no other vehicle id can get: positions 11-17 encode the id (up to 33 million).

    Position 11 (the plant) is the id's million plus a per-WMI offset; positions 12-17 a bijection of the id's
    last six digits that looks like a serial number.
    """
    block, rest = divmod(vehicle_id, 1_000_000)
    if block >= len(VIN_ALPHABET):
        raise ValueError("vehicle ids above 33 million cannot be given unique seed VINs")
    serial = (rest * 387_413 + 524_287) % 1_000_000
    plant = VIN_ALPHABET[(block + sum(map(ord, wmi))) % len(VIN_ALPHABET)]
    year_code = _YEAR_CODES[(year - 1980) % 30]
    return with_check_digit(f"{wmi}{descriptor}0{year_code}{plant}{serial:06d}")


_VEHICLE_COUNT = _Weighted((1, 2, 3), (55, 35, 10))
_PREFERRED = _Weighted(("email", "sms", "phone"), (55, 30, 15))
_FIRST_SOURCE = _Weighted(("in_person", "paper_form", "phone", "web_form"), (55, 20, 15, 10))
_LATER_SOURCE = _Weighted(("web_form", "email", "phone", "in_person"), (40, 20, 20, 20))
_WITHDRAW_SOURCE = _Weighted(("web_form", "email", "phone", "in_person"), (45, 20, 20, 15))
_REGRANT_SOURCE = _Weighted(("in_person", "phone", "web_form"), (40, 30, 30))
_MODEL = _Weighted(MODELS, (model[3] for model in MODELS))
_VEHICLE_AGE = _Weighted(range(15), (3, 6, 9, 10, 10, 10, 9, 8, 7, 6, 5, 4, 3, 2, 2))
_COLOR = _Weighted(COLORS, (color[2] for color in COLORS))
_EXTRA_SERVICES = _Weighted((0, 1, 2), (55, 35, 10))
_PAY_AT_PICKUP = _Weighted(("card", "debit", "cash", "cheque"), (48, 40, 8, 4))
_PAY_LATER = _Weighted(("transfer", "cheque", "card"), (45, 30, 25))


# -- the plan: a customer's timeline skeleton ------------------------------------------------------------


class _Clock:
    """Local days (proleptic ordinals) and times of the shop, as UTC epoch seconds."""

    def __init__(self, timezone: ZoneInfo) -> None:
        self.timezone = timezone
        self._midnights: dict[int, int] = {}

    def midnight(self, day: int) -> int:
        ts = self._midnights.get(day)
        if ts is None:
            d = date.fromordinal(day)
            ts = int(datetime(d.year, d.month, d.day, tzinfo=self.timezone).timestamp())
            self._midnights[day] = ts
        return ts

    def at(self, day: int, minute: int, second: int = 0) -> int:
        return self.midnight(day) + minute * 60 + second


@dataclass(slots=True)
class _PlannedWorkOrder:
    vehicle: int  # index into the customer's vehicles
    day: int
    opened: int
    status: str
    closed_day: int | None
    closed: int | None
    waited_for_parts: bool


@dataclass(slots=True)
class _Plan:
    status: str
    since: int
    end: int
    created: int
    activities: int
    vehicle_days: list[int]
    work_orders: list[_PlannedWorkOrder]


# Activities per work order, roughly: opened, 1-3 status changes, invoice, payment, invoice status, documents
# and emails. Used to size the number of work orders to the wanted history length.
_EVENTS_PER_WORK_ORDER = 7.6
_WORK_ORDER_SHARE = 0.68


def _not_sunday(day: int) -> int:
    return day - 1 if (day - 1) % 7 == 6 else day


def _plan(seed: int, index: int, today: int, mean: float, clock: _Clock) -> _Plan:
    """When things happen for customer `index`: pure function of its arguments."""
    r = random.Random(f"{seed}:plan:{index}")
    u = r.random()
    if u < 0.05:
        status = "prospect"
        since = today - _between(r, 7, 400)
        end = today - 1
    elif u < 0.12:
        status = "inactive"
        end = today - _between(r, 400, 1400)
        since = max(end - _between(r, 365, 2200), today - 2922)
    else:
        status = "active"
        since = today - _between(r, 365, 2922)
        end = today - 1
    since = _not_sunday(since)
    end = max(end, since)
    if mean <= 0:
        target = 0
    elif status == "prospect":
        target = _between(r, 3, 8)
    else:
        # Lognormal spread around the mean, scaled by how long they have been a customer.
        sigma = 0.9
        scaled = mean * (end - since + 1) / 1530  # normalised so the mean over all customers is `mean`
        drawn = r.lognormvariate(math.log(max(scaled, 0.5)) - sigma * sigma / 2, sigma)
        target = max(3, min(round(drawn), 20 * mean))  # the busiest fleet accounts: a thousand entries
    vehicle_count = 1 if status == "prospect" else _VEHICLE_COUNT.pick(r)
    extra_days = (since if r.random() < 0.4 else _between(r, since, end) for _ in range(vehicle_count - 1))
    vehicle_days = [since, *sorted(extra_days)]
    planned = []
    if status != "prospect" and target:
        budget = max(0.0, (target - 5 - vehicle_count) * _WORK_ORDER_SHARE / _EVENTS_PER_WORK_ORDER)
        count = int(budget) + (r.random() < budget - int(budget))
        count = min(count, (end - since) // 10 + 1)
        days = sorted(_not_sunday(_between(r, since, end)) for _ in range(count))
        if days and status == "active" and r.random() < 0.06:
            days[-1] = _not_sunday(today - _between(r, 1, 6))
            days.sort()
        for day in days:
            days_before = bisect.bisect_left(vehicle_days, day)
            choices = max(1, days_before if day != since else vehicle_days.count(since))
            opened = clock.at(day, _between(r, 450, 690), _between(r, 0, 59))
            age = today - day
            closed_day = closed = None
            waited = False
            if age <= 10 and r.random() < 0.6 - age * 0.05:
                status_now = r.choices(
                    ("open", "in_progress", "waiting_parts"), (4, 4, 1) if age <= 1 else (1, 3, 4)
                )[0]
                waited = status_now == "waiting_parts" or (status_now == "in_progress" and r.random() < 0.25)
            elif r.random() < 0.03:
                status_now = "cancelled"
                closed_day = day
                closed = opened + _between(r, 20, 300) * 60
            else:
                status_now = "completed"
                if r.random() < 0.72:
                    closed_day = day
                    closed = clock.at(day, _between(r, 870, 1080), _between(r, 0, 59))
                    waited = r.random() < 0.03
                else:
                    closed_day = day + _between(r, 1, 6)
                    closed_day += (closed_day - 1) % 7 == 6
                    closed = clock.at(closed_day, _between(r, 540, 1080), _between(r, 0, 59))
                    waited = r.random() < 0.6
                if closed_day >= today:  # not finished yet
                    status_now = "waiting_parts" if waited else "in_progress"
                    closed_day = closed = None
            planned.append(
                _PlannedWorkOrder(r.randrange(choices), day, opened, status_now, closed_day, closed, waited)
            )
    first_minute = _between(r, 420, 440) if planned and planned[0].day == since else _between(r, 480, 1000)
    created = clock.at(since, first_minute, _between(r, 0, 59))
    return _Plan(status, since, end, created, target, vehicle_days, planned)


# -- numbering: WO-2024-000123 and INV-2024-000123, sequential per year in time order ------------------


class _Numbers:
    def __init__(self) -> None:
        self.years = array("H")
        self.keys: list[int] = []
        self.sequence = array("l")

    def add(self, ts: int, year: int) -> None:
        self.keys.append((ts << 32) | len(self.years))
        self.years.append(year)

    def assign(self, last_of_year: dict[int, int]) -> None:
        self.keys.sort()
        counters = dict(last_of_year)
        self.sequence = array("l", [0]) * len(self.years)
        mask = (1 << 32) - 1
        for key in self.keys:
            index = key & mask
            year = self.years[index]
            counters[year] = counters.get(year, 0) + 1
            self.sequence[index] = counters[year]
        self.keys = []

    def number(self, prefix: str, index: int) -> str:
        return f"{prefix}-{self.years[index]}-{self.sequence[index]:06d}"


# -- the generator ---------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Vehicle:
    id: int
    day: int
    electric: bool
    make: str
    model: str
    year: int
    plate: str
    km_at_day: int
    km_per_day: float
    vin: str = ""
    color: str = ""
    added: int = 0
    last_service_day: int | None = None
    last_km: int | None = None

    def km_on(self, day: int) -> int:
        return self.km_at_day + int((day - self.day) * self.km_per_day)


class _Generator:
    """Builds every row of customers [start, stop) as tuples in COLUMNS order, with ids assigned here."""

    def __init__(
        self,
        *,
        seed: int,
        today: date,
        timezone: ZoneInfo,
        activities_per_customer: int,
        advisors: list[int],
        next_ids: dict[str, int],
        work_order_numbers: _Numbers,
        invoice_numbers: _Numbers,
    ) -> None:
        self.seed = seed
        self.today = today.toordinal()
        self.clock = _Clock(timezone)
        self.mean = activities_per_customer
        self.advisors = advisors
        # The demo advisor (first) gets a bigger share, so signing in as them shows "my customers".
        self.advisor_weights = [4] + [1] * (len(advisors) - 1)
        self.ids = dict(next_ids)
        self.wo_numbers = work_order_numbers
        self.invoice_numbers = invoice_numbers
        self.wo_index = 0
        self.invoice_index = 0
        self.pools = _name_pools(seed)

    def plan(self, index: int) -> _Plan:
        return _plan(self.seed, index, self.today, self.mean, self.clock)

    def rows(self, start: int, stop: int) -> dict[str, list[tuple]]:
        batch: dict[str, list[tuple]] = {name: [] for name in COLUMNS}
        for index in range(start, stop):
            _CustomerBuilder(self, index, batch).build()
        return batch

    def next_id(self, table: str) -> int:
        value = self.ids[table]
        self.ids[table] = value + 1
        return value


class _CustomerBuilder:
    def __init__(self, gen: _Generator, index: int, batch: dict[str, list[tuple]]) -> None:
        self.gen = gen
        self.batch = batch
        self.plan = gen.plan(index)
        self.r = random.Random(f"{gen.seed}:customer:{index}")
        self.clock = gen.clock
        self.today = gen.today
        self.events: list[tuple] = []
        self.consent_timeline: dict[tuple[str, str], list[tuple[int, str]]] = {}
        self.record_activity = gen.mean > 0

    # helpers

    def event(
        self,
        ts: int,
        kind: str,
        actor_id: int | None,
        summary: str,
        details: dict | None = None,
        ref_type: str | None = None,
        ref_id: int | None = None,
        actor_label: str | None = None,
        pinned: bool = False,
    ) -> None:
        self.events.append(
            (ts, len(self.events), kind, actor_id, actor_label, summary, details, ref_type, ref_id, pinned)
        )

    def actor(self) -> int:
        r = self.r
        return self.advisor if r.random() < 0.75 else r.choice(self.gen.advisors)

    def time_between(
        self, first_day: int, last_day: int, after: int, minutes: tuple[int, int] = (480, 1080)
    ) -> int:
        r = self.r
        day = _between(r, first_day, max(first_day, last_day))
        ts = self.clock.at(day, _between(r, *minutes), _between(r, 0, 59))
        if ts <= after:
            ts = after + _between(r, 60, 3600)
        return ts

    def consented(self, purpose: str, channel: str, ts: int) -> bool:
        state = False
        for when, action in self.consent_timeline.get((purpose, channel), ()):
            if when > ts:
                break
            state = action == "granted"
        return state

    # the customer

    def build(self) -> None:
        gen, r, plan = self.gen, self.r, self.plan
        self.customer_id = customer_id = gen.next_id("customers")
        self.language = language = "fr" if r.random() < 0.6 else "en"
        names = gen.pools[language]
        female = r.random() < 0.5
        first = r.choice(names.female if female else names.male)
        last = r.choice(names.last)
        if language == "fr" and r.random() < 0.08:  # Marie-Ève, Jean-François
            second = r.choice(names.female if female else names.male)
            if second != first and "-" not in first + second:
                first = f"{first}-{second}"
        company = None
        if r.random() < 0.15:
            company = self.company_name(language, r.choice(names.last))
        province = "QC" if r.random() < (0.96 if language == "fr" else 0.65) else "ON"
        cities, weights = _CITIES_BY_PROVINCE[province]
        city, _, fsas, area_codes, _ = r.choices(cities, weights)[0]
        street = r.choice(QC_STREETS if province == "QC" else ON_STREETS)
        civic = r.choice((_between(r, 1, 999), _between(r, 100, 4999), _between(r, 1000, 12999)))
        address_line1 = f"{civic}, {street}" if province == "QC" and language == "fr" else f"{civic} {street}"
        address_line2 = None
        if company is None and r.random() < 0.22:
            unit = _between(r, 1, 12) if r.random() < 0.5 else _between(r, 1, 9) * 100 + _between(r, 1, 12)
            address_line2 = f"{'app.' if language == 'fr' else 'Apt'} {unit}"
        elif company is not None and r.random() < 0.4:
            address_line2 = (
                f"{'bureau' if language == 'fr' else 'Suite'} {_between(r, 1, 9)}{_between(r, 0, 5):02d}"
            )
        letters = _POSTAL_LETTERS
        postal_code = (
            f"{r.choice(fsas)}{r.choice(letters)} {_between(r, 0, 9)}{r.choice(letters)}{_between(r, 0, 9)}"
        )
        self.advisor = r.choices(gen.advisors, gen.advisor_weights)[0]
        preferred = _PREFERRED.pick(r)
        tags = sorted(
            {tag for tag in r.choices(*zip(*TAGS_PERSONAL, strict=True), k=r.choice((0, 0, 1, 1, 2, 3)))}
        )
        if company is not None:
            tags = sorted({*tags, *r.choices(*zip(*TAGS_COMPANY, strict=True), k=_between(r, 1, 2))})
        created = plan.created
        self.first_name = first
        self.company = company

        self.contacts(first, last, company, area_codes, language)
        if self.record_activity:
            self.event(
                created, "profile_updated", self.advisor, TEXT[language]["created"], {"action": "created"}
            )
        self.consents(created)
        self.vehicles_and_work_orders(province, created)
        updated = self.fill(created)
        self.write_activities()
        gen_batch = self.batch["customers"]
        gen_batch.append(
            (
                customer_id,
                first,
                last,
                company,
                keys.name_key(first, last),
                keys.company_key(company),
                address_line1,
                address_line2,
                city,
                province,
                postal_code,
                "CA",
                preferred,
                language,
                tags,
                self.advisor,
                plan.status,
                created,
                updated,
            )
        )

    def company_name(self, language: str, last: str) -> str:
        r = self.r
        if language == "fr":
            trade = r.choice(
                (
                    "Construction",
                    "Paysagement",
                    "Plomberie",
                    "Électricité",
                    "Transport",
                    "Toitures",
                    "Rénovations",
                )
            )
            return r.choice((f"{trade} {last} inc.", f"Les Entreprises {last} inc.", f"{last} et Fils ltée"))
        trade = r.choice(
            ("Construction", "Landscaping", "Plumbing", "Electric", "Delivery", "Roofing", "Renovations")
        )
        return r.choice((f"{last} {trade} Ltd.", f"{last} & Sons Inc.", f"{last} {trade} Inc."))

    def contacts(self, first: str, last: str, company: str | None, area_codes: tuple, language: str) -> None:
        r, rows, gen = self.r, self.batch["customer_contacts"], self.gen
        local_first = _slug(first)
        local_last = _slug(last)
        pattern = r.randrange(4)
        if pattern == 0:
            local = f"{local_first}.{local_last}"
        elif pattern == 1:
            local = f"{local_first}{local_last}{_between(r, 1, 99)}"
        elif pattern == 2:
            local = f"{local_first[0]}{local_last}"
        else:
            local = f"{local_last}.{local_first}{_between(r, 60, 99)}"
        if company is not None and r.random() < 0.7:
            domain = f"{_slug(company)}.example"
            label = "work"
        else:
            domain = r.choice(EMAIL_DOMAINS)
            label = "home"
        email = f"{local}@{domain}"
        if r.random() < 0.1:
            email = f"{local_first.capitalize()}.{local_last.capitalize()}@{domain}"
        self.email_address = keys.email_key(email)
        rows.append(
            (
                gen.next_id("customer_contacts"),
                self.customer_id,
                "email",
                email,
                self.email_address,
                label,
                True,
            )
        )
        phones = [(r.choice(("mobile", "mobile", "home")), True)]
        if r.random() < 0.35:
            phones.append((r.choice(("work", "home")) if phones[0][0] == "mobile" else "mobile", False))
        for phone_label, primary in phones:
            exchange = _between(r, 200, 999)
            exchange += exchange % 100 == 11  # N11 codes (411, 911) are service numbers
            number = f"{r.choice(area_codes)}{exchange}{_between(r, 0, 9999):04d}"
            style = r.randrange(6)
            if style < 3:
                value = f"{number[:3]}-{number[3:6]}-{number[6:]}"
            elif style < 5:
                value = f"({number[:3]}) {number[3:6]}-{number[6:]}"
            else:
                value = f"+1 {number[:3]} {number[3:6]} {number[6:]}"
            rows.append(
                (
                    gen.next_id("customer_contacts"),
                    self.customer_id,
                    "phone",
                    value,
                    keys.phone_key(value),
                    phone_label,
                    primary,
                )
            )
        if len(phones) == 1 and r.random() < 0.12:  # at most three contacts
            other = f"{local_first}.{local_last}@{r.choice(EMAIL_DOMAINS)}"
            rows.append(
                (
                    gen.next_id("customer_contacts"),
                    self.customer_id,
                    "email",
                    other,
                    keys.email_key(other),
                    "work",
                    False,
                )
            )

    def consents(self, created: int) -> None:
        r, gen, plan, clock = self.r, self.gen, self.plan, self.clock
        language = self.language
        consent_rows, event_rows = self.batch["consents"], self.batch["consent_events"]
        import_before = date(2020, 1, 1).toordinal()
        for purpose, channel, probability in CONSENT_PLAN:
            if r.random() >= probability:
                continue
            consent_id = gen.next_id("consents")
            if purpose == "service_reminders":
                basis = "contract" if r.random() < 0.55 else "legitimate_interest"
            else:
                basis = "consent"
            history: list[tuple[int, str, str]] = []  # (ts, action, source)
            if r.random() < 0.7:
                first = created + _between(r, 60, 360)
                source = (
                    "import" if plan.since < import_before and r.random() < 0.5 else _FIRST_SOURCE.pick(r)
                )
            else:
                first = self.time_between(plan.since, plan.end, created)
                source = _LATER_SOURCE.pick(r)
            history.append((first, "granted", source))
            first_day = (first - clock.midnight(plan.since)) // 86400 + plan.since
            if r.random() < WITHDRAW_PROBABILITY[purpose] and first_day + 2 <= plan.end:
                withdrawn = self.time_between(first_day + 1, plan.end, first)
                history.append(
                    (
                        withdrawn,
                        "withdrawn",
                        _WITHDRAW_SOURCE.pick(r),
                    )
                )
                withdrawn_day = (withdrawn - clock.midnight(plan.since)) // 86400 + plan.since
                if r.random() < 0.2 and withdrawn_day + 2 <= plan.end:
                    again = self.time_between(withdrawn_day + 1, plan.end, withdrawn)
                    history.append((again, "granted", _REGRANT_SOURCE.pick(r)))
            timeline = []
            granted_at = withdrawn_at = None
            version = WORDING_LATEST
            for ts, action, source in history:
                day = (ts - clock.midnight(plan.since)) // 86400 + plan.since
                version = _wording_version(day)
                self_service = source in ("web_form", "email")
                actor = None if self_service or source == "import" else self.actor()
                note = _consent_note(language, action, source)
                event_rows.append(
                    (
                        gen.next_id("consent_events"),
                        self.customer_id,
                        purpose,
                        channel,
                        action,
                        basis,
                        version,
                        source,
                        actor,
                        note,
                        ts,
                    )
                )
                timeline.append((ts, action))
                if action == "granted":
                    granted_at, withdrawn_at = ts, None
                else:
                    withdrawn_at = ts
                if self.record_activity:
                    labels = TEXT[language]
                    summary = labels[f"consent_{action}"].format(
                        purpose=PURPOSE_LABELS[language][purpose], channel=CHANNEL_LABELS[language][channel]
                    )
                    self.event(
                        ts,
                        f"consent_{action}",
                        actor,
                        summary,
                        {"purpose": purpose, "channel": channel, "legal_basis": basis, "source": source},
                        "consent",
                        consent_id,
                        None if actor else ("import" if source == "import" else "customer"),
                    )
            last_ts, last_action, last_source = history[-1]
            consent_rows.append(
                (
                    consent_id,
                    self.customer_id,
                    purpose,
                    channel,
                    last_action,
                    basis,
                    version,
                    last_source,
                    granted_at,
                    withdrawn_at,
                    last_ts,
                )
            )
            self.consent_timeline[purpose, channel] = timeline

    def vehicles_and_work_orders(self, province: str, created: int) -> None:
        r, gen, plan = self.r, self.gen, self.plan
        language = self.language
        labels = TEXT[language]
        fleet = []
        for position, day in enumerate(plan.vehicle_days):
            make, model, wmi, _, electric = _MODEL.pick(r)
            added_year = date.fromordinal(day).year
            year = added_year - _VEHICLE_AGE.pick(r)
            if date.fromordinal(day).month >= 9 and r.random() < 0.3:
                year = added_year + 1
            if electric:
                year = max(year, 2018)
            km_per_day = _between(r, 11_000, 26_000) / 365
            age_days = max(20, day - date(year - 1, 10, 1).toordinal())
            km = max(5, int(age_days * km_per_day * r.uniform(0.8, 1.2)))
            vehicle = _Vehicle(
                gen.next_id("vehicles"),
                day,
                electric,
                make,
                model,
                year,
                self.plate(province),
                km,
                km_per_day,
            )
            vehicle.vin = self.vin(vehicle.id, wmi, year)
            vehicle.color = _COLOR.pick(r)[0 if language == "fr" else 1]
            fleet.append(vehicle)
            added = (
                created + 60 + position * 30 if day == plan.since else self.time_between(day, day, created)
            )
            vehicle.added = added
            if self.record_activity:
                self.event(
                    added,
                    "vehicle_added",
                    self.actor(),
                    labels["vehicle_added"].format(year=year, make=make, model=model, plate=vehicle.plate),
                    {"vin": vehicle.vin, "plate": vehicle.plate, "year": year, "make": make, "model": model},
                    "vehicle",
                    vehicle.id,
                )
        self.fleet = fleet
        for planned in plan.work_orders:
            self.work_order(planned, fleet[planned.vehicle])
        rows = self.batch["vehicles"]
        for vehicle in fleet:
            if vehicle.last_service_day is not None:
                odometer = vehicle.last_km
                next_day = vehicle.last_service_day + (365 if vehicle.electric else 182)
                next_km = odometer + (20_000 if vehicle.electric else 8_000)
            else:
                odometer = vehicle.km_at_day
                next_day = vehicle.day + 182
                next_km = odometer + 8_000
            rows.append(
                (
                    vehicle.id,
                    self.customer_id,
                    vehicle.vin,
                    vehicle.plate,
                    keys.plate_key(vehicle.plate),
                    vehicle.make,
                    vehicle.model,
                    vehicle.year,
                    vehicle.color,
                    odometer,
                    date.fromordinal(next_day),
                    next_km,
                    vehicle.added,
                )
            )

    def plate(self, province: str) -> str:
        r = self.r
        letters = _PLATE_LETTERS
        if province == "QC":
            if r.random() < 0.6:
                return f"{r.choice(letters)}{_between(r, 10, 99)} {''.join(r.choices(letters, k=3))}"
            return f"{_between(r, 100, 999)} {''.join(r.choices(letters, k=3))}"
        if r.random() < 0.8:
            return f"{''.join(r.choices(letters, k=4))} {_between(r, 100, 999)}"
        return f"{''.join(r.choices(letters, k=3))} {_between(r, 100, 999)}"

    def vin(self, vehicle_id: int, wmi: str, year: int) -> str:
        r = self.r
        descriptor = "".join(r.choices(VIN_ALPHABET[10:], k=3)) + "".join(r.choices(VIN_ALPHABET, k=2))
        return vehicle_vin(vehicle_id, wmi, descriptor, year)

    def work_order(self, planned: _PlannedWorkOrder, vehicle: _Vehicle) -> None:
        r, gen, clock = self.r, self.gen, self.clock
        language = self.language
        labels = TEXT[language]
        status_labels = WO_STATUS_LABELS[language]
        record = self.record_activity
        wo_id = gen.next_id("work_orders")
        number = gen.wo_numbers.number("WO", gen.wo_index)
        gen.wo_index += 1
        d = date.fromordinal(planned.day)
        catalogue = _SERVICES_BY_MONTH[d.month, vehicle.electric]
        services = [catalogue.pick(r)]
        for _ in range(_EXTRA_SERVICES.pick(r)):
            extra = catalogue.pick(r)
            if extra not in services:
                services.append(extra)
        rate = min(14_500, 9_500 + max(0, d.year - 2018) * 600)  # cents per hour
        labour = sum(_between(r, *service[3]) for service in services) * rate // 10
        parts = sum(_between(r, *service[4]) for service in services)
        parts -= parts % 5
        description = "; ".join(service[1 if language == "fr" else 2] for service in services)
        status = planned.status
        if status == "cancelled":
            labour = parts = 0
        subtotal = labour + parts
        gst, qst = gst_cents(subtotal), qst_cents(subtotal)
        km = vehicle.km_on(planned.day)
        advisor = self.advisor if r.random() < 0.8 else r.choice(gen.advisors)
        technician = None if status == "open" else r.choice(TECHNICIANS)
        opened = planned.opened
        ref = ("work_order", wo_id)
        if record:
            self.event(
                opened,
                "work_order_opened",
                advisor,
                labels["wo_opened"].format(number=number, description=description),
                {"number": number, "vehicle_id": vehicle.id, "odometer_km": km, "description": description},
                *ref,
            )
        last = opened

        def status_change(ts: int, old: str, new: str) -> None:
            nonlocal last
            last = ts
            if record:
                self.event(
                    ts,
                    "work_order_status",
                    advisor,
                    labels["wo_status"].format(number=number, status=status_labels[new]),
                    {"number": number, "from": old, "to": new},
                    *ref,
                )

        if record and r.random() < 0.15:
            self.document(
                opened + _between(r, 300, 1800), wo_id, advisor, ("estimation", "estimate"), number, "pdf"
            )
        limit = planned.closed if planned.closed is not None else clock.midnight(self.today) - 3600
        if status != "open" and not (status == "cancelled" and r.random() < 0.6):
            started = min(opened + _between(r, 10, 45) * 60, opened + (limit - opened) // 3)
            status_change(started, "open", "in_progress")
            current = "in_progress"
            if record and r.random() < 0.2:
                for photo in range(_between(r, 1, 3)):
                    self.document(
                        started + 300 + photo * 97,
                        wo_id,
                        advisor,
                        ("inspection", "inspection"),
                        number,
                        "jpg",
                        photo + 1,
                    )
            if planned.waited_for_parts:
                waiting = started + (limit - started) // 10 + _between(r, 60, 600)
                status_change(waiting, "in_progress", "waiting_parts")
                current = "waiting_parts"
                if status != "waiting_parts":
                    resumed = waiting + int((limit - waiting) * r.uniform(0.5, 0.9))
                    status_change(resumed, "waiting_parts", "in_progress")
                    current = "in_progress"
        else:
            current = "open"
        if planned.closed is not None:
            status_change(planned.closed, current, status)
            if status == "completed":
                vehicle.last_service_day = planned.closed_day
                vehicle.last_km = km
        self.batch["work_orders"].append(
            (
                wo_id,
                number,
                self.customer_id,
                vehicle.id,
                status,
                advisor,
                technician,
                description,
                km,
                opened,
                planned.closed,
                labour,
                parts,
                subtotal,
                gst + qst,
                subtotal + gst + qst,
                last,
            )
        )
        if status == "completed":
            self.invoice(planned, wo_id, number, advisor, subtotal, gst, qst, vehicle)

    def invoice(
        self,
        planned: _PlannedWorkOrder,
        wo_id: int,
        wo_number: str,
        advisor: int,
        subtotal: int,
        gst: int,
        qst: int,
        vehicle: _Vehicle,
    ) -> None:
        r, gen, clock = self.r, self.gen, self.clock
        language = self.language
        labels = TEXT[language]
        record = self.record_activity
        invoice_id = gen.next_id("invoices")
        number = gen.invoice_numbers.number("INV", gen.invoice_index)
        gen.invoice_index += 1
        total = subtotal + gst + qst
        issued_day = planned.closed_day
        due_day = issued_day + DUE_DAYS
        issued = planned.closed + _between(r, 60, 300)
        last_day = self.today - 1  # history ends yesterday
        ref = ("invoice", invoice_id)
        if record:
            self.event(
                issued,
                "invoice_issued",
                advisor,
                labels["invoice_issued"].format(number=number, amount=_money(total, language)),
                {
                    "number": number,
                    "work_order": wo_number,
                    "total_cents": total,
                    "due_on": date.fromordinal(due_day).isoformat(),
                },
                *ref,
            )
            if r.random() < 0.35:
                self.document(
                    issued + _between(r, 30, 120), wo_id, advisor, ("facture", "invoice"), number, "pdf"
                )
            if r.random() < 0.3:
                self.email(
                    issued + _between(r, 120, 600),
                    "transactional",
                    advisor,
                    _invoice_email(language, self.first_name, number, _money(total, language)),
                )

        pay: list[tuple[int, int, str]] = []  # (ts, amount, method)

        def pickup(amount: int) -> None:
            pay.append((issued + _between(r, 60, 900), amount, _PAY_AT_PICKUP.pick(r)))

        def pay_later(amount: int, within: int) -> bool:
            first, last = issued_day + 1, min(issued_day + within, last_day)
            if first > last:
                return False
            after = pay[-1][0] if pay else issued
            pay.append((self.time_between(first, last, after, (540, 1020)), amount, _PAY_LATER.pick(r)))
            return True

        def part(amount: int) -> int:
            value = int(amount * r.uniform(0.2, 0.7)) // 100 * 100
            return value if 0 < value < amount else 0

        past_due = due_day < self.today
        overdue_at = clock.midnight(due_day + 1) + 300  # the nightly job marks it the day after it was due
        void_at = None
        if r.random() < 0.006:
            void_at = self.time_between(issued_day, min(issued_day + 3, last_day), issued)
        elif past_due and r.random() < (0.1 if self.today - issued_day < 150 else 0.012):
            # Never paid in full: nothing at all, or a deposit before the due date.
            deposit = part(total)
            if deposit and r.random() < 0.45 and (r.random() < 0.5 or not pay_later(deposit, DUE_DAYS)):
                pickup(deposit)
        elif past_due:
            v = r.random()
            deposit = part(total)
            if v < 0.8:
                pickup(total)
            elif v < 0.95 or not deposit:
                if not pay_later(total, 45):
                    pickup(total)
            else:
                pickup(deposit)
                if not pay_later(total - deposit, 40):
                    pay[-1] = (pay[-1][0], total, pay[-1][2])
        else:
            v = r.random()
            deposit = part(total)
            if v < 0.55:
                if r.random() < 0.85 or not pay_later(total, DUE_DAYS):
                    pickup(total)
            elif v < 0.7 and deposit and (r.random() < 0.6 or not pay_later(deposit, DUE_DAYS)):
                pickup(deposit)

        # Replay payments and the overdue mark in time order: the status is what that history leaves.
        timeline: list[tuple[int, int, int, str]] = [(ts, 0, amount, method) for ts, amount, method in pay]
        if void_at is None and past_due:
            timeline.append((overdue_at, 1, 0, ""))
        timeline.sort()
        status, paid, updated = "sent", 0, issued
        payment_rows = self.batch["payments"]

        def change(ts: int, new: str) -> None:
            nonlocal status, updated
            if record:
                self.event(
                    ts,
                    "invoice_status",
                    None if new == "overdue" else advisor,
                    labels["invoice_status"].format(
                        number=number, status=INVOICE_STATUS_LABELS[language][new]
                    ),
                    {"number": number, "from": status, "to": new},
                    *ref,
                    actor_label="system" if new == "overdue" else None,
                )
            status, updated = new, max(updated, ts)

        for ts, is_overdue_mark, amount, method in timeline:
            if is_overdue_mark:
                if paid < total:
                    change(ts, "overdue")
                continue
            payment_id = gen.next_id("payments")
            paid += amount
            recorder = advisor if r.random() < 0.7 else r.choice(gen.advisors)
            reference = _payment_reference(r, method)
            payment_rows.append(
                (payment_id, invoice_id, self.customer_id, amount, method, reference, ts, recorder)
            )
            updated = max(updated, ts)
            if record:
                method_label = METHOD_LABELS[language][method]
                self.event(
                    ts,
                    "payment",
                    recorder,
                    labels["payment"].format(
                        amount=_money(amount, language), method=method_label, number=number
                    ),
                    {"invoice": number, "amount_cents": amount, "method": method},
                    "payment",
                    payment_id,
                )
            if paid == total:
                change(ts + 1, "paid")
            elif status != "overdue" and status != "partially_paid":
                change(ts + 1, "partially_paid")
        if void_at is not None:
            change(void_at, "void")
        self.batch["invoices"].append(
            (
                invoice_id,
                number,
                self.customer_id,
                wo_id,
                status,
                date.fromordinal(issued_day),
                date.fromordinal(due_day),
                subtotal,
                gst,
                qst,
                total,
                paid,
                "CAD",
                issued,
                updated,
            )
        )
        # A satisfaction survey a few days after the visit, to those who agreed to receive one.
        if record and r.random() < 0.2:
            day = issued_day + _between(r, 1, 3)
            if day <= last_day:
                ts = self.clock.at(day, 600, _between(r, 0, 3599))
                if self.consented("satisfaction_surveys", "email", ts):
                    self.email(
                        ts, "satisfaction_survey", None, _survey_email(language, self.first_name, issued_day)
                    )

    def document(
        self,
        ts: int,
        wo_id: int | None,
        uploader: int | None,
        stem: tuple[str, str],
        number: str,
        extension: str,
        photo: int | None = None,
    ) -> None:
        r, gen = self.r, self.gen
        document_id = gen.next_id("documents")
        filename = (
            f"{stem[0 if self.language == 'fr' else 1]}-{number}{f'-{photo}' if photo else ''}.{extension}"
        )
        if extension == "pdf":
            content_type, size = "application/pdf", _between(r, 38_000, 240_000)
        else:
            content_type, size = "image/jpeg", _between(r, 1_100_000, 4_800_000)
        self.add_document(document_id, ts, wo_id, uploader, filename, content_type, size)

    def add_document(
        self,
        document_id: int,
        ts: int,
        wo_id: int | None,
        uploader: int | None,
        filename: str,
        content_type: str,
        size: int,
    ) -> None:
        seed = self.gen.seed
        digest = hashlib.sha256(f"c360-seed-document:{seed}:{document_id}:{filename}".encode()).hexdigest()
        storage_key = hashlib.blake2b(
            f"c360-seed-storage:{seed}:{document_id}".encode(), digest_size=16
        ).hexdigest()
        self.batch["documents"].append(
            (
                document_id,
                self.customer_id,
                wo_id,
                filename,
                content_type,
                size,
                digest,
                storage_key,
                uploader,
                ts,
            )
        )
        if self.record_activity:
            self.event(
                ts,
                "document_uploaded",
                uploader,
                TEXT[self.language]["document"].format(filename=filename),
                {"filename": filename, "content_type": content_type, "size_bytes": size},
                "document",
                document_id,
            )

    def email(self, ts: int, category: str, author: int | None, content: tuple[str, str]) -> None:
        r, gen = self.r, self.gen
        email_id = gen.next_id("emails")
        subject, body = content
        if r.random() < 0.035:
            status, attempts, error, sent = "failed", _between(r, 3, 5), r.choice(EMAIL_ERRORS), None
        else:
            status, attempts, error, sent = "sent", 1, None, ts + _between(r, 1, 20)
        self.batch["emails"].append(
            (
                email_id,
                self.customer_id,
                category,
                self.email_address,
                subject,
                body,
                self.language,
                status,
                attempts,
                error,
                author,
                ts,
                None,
                sent,
            )
        )
        if not self.record_activity:
            return
        labels = TEXT[self.language]
        self.event(
            ts,
            "email",
            author,
            labels["email_sent" if status == "sent" else "email_failed"].format(subject=subject),
            {"category": category, "status": status, "to": self.email_address, "subject": subject},
            "email",
            email_id,
            None if author else "system",
        )

    def fill(self, created: int) -> int:
        """Notes, calls, visits, emails and the like until the history has its planned length."""
        if not self.record_activity:
            return created
        r, gen, plan = self.r, self.gen, self.plan
        language = self.language
        french = language == "fr"
        updated = created
        missing = plan.activities - len(self.events)
        kinds = ("note", "call", "email", "visit", "profile_updated", "document")
        weights = (28, 30, 20, 10, 6, 6)
        notes = NOTES[language]
        pinned: set[int] = set()
        for kind in r.choices(kinds, weights, k=max(0, missing)):
            ts = self.time_between(plan.since, plan.end, created)
            if kind == "note":
                note = r.randrange(len(notes))
                # Standing facts about the customer are what advisors pin to the top of the timeline.
                pin = note in PINNABLE_NOTES and note not in pinned and len(pinned) < 2 and r.random() < 0.3
                if pin:
                    pinned.add(note)
                self.event(ts, "note", self.actor(), notes[note], pinned=pin)
            elif kind == "call":
                fr, en, direction = r.choice(CALLS)
                self.event(
                    ts,
                    "call",
                    self.actor(),
                    fr if french else en,
                    {"direction": direction, "duration_s": _between(r, 30, 900)},
                )
            elif kind == "visit":
                fr, en, reason = r.choice(VISITS)
                self.event(ts, "visit", self.actor(), fr if french else en, {"reason": reason})
            elif kind == "profile_updated":
                fr, en, fields = r.choice(PROFILE_UPDATES)
                self.event(
                    ts, "profile_updated", self.actor(), fr if french else en, {"fields": list(fields)}
                )
                updated = max(updated, ts)
            elif kind == "document":
                fr, en, content_type, sizes = r.choice(OTHER_DOCUMENTS)
                self.add_document(
                    gen.next_id("documents"),
                    ts,
                    None,
                    self.actor(),
                    fr if french else en,
                    content_type,
                    _between(r, *sizes),
                )
            else:
                self.filler_email(ts)
        return updated

    def filler_email(self, ts: int) -> None:
        r = self.r
        language = self.language
        day = self.plan.since + (ts - self.clock.midnight(self.plan.since)) // 86400
        category = r.choices(
            ("service_reminder", "marketing", "satisfaction_survey", "transactional"), (40, 25, 10, 25)
        )[0]
        purpose = {
            "service_reminder": "service_reminders",
            "marketing": "marketing",
            "satisfaction_survey": "satisfaction_surveys",
        }.get(category)
        if purpose is not None and not self.consented(purpose, "email", ts):
            category = "transactional"
        if category == "service_reminder":
            owned = [vehicle for vehicle in self.fleet if vehicle.day <= day] or self.fleet
            vehicle = r.choice(owned)
            content = _reminder_email(language, self.first_name, vehicle.make, vehicle.model)
            author = None
        elif category == "marketing":
            content = _marketing_email(language, self.first_name, date.fromordinal(day).month)
            author = None
        elif category == "satisfaction_survey":
            content = _survey_email(language, self.first_name, day - _between(r, 1, 3))
            author = None
        else:
            content = _appointment_email(language, self.first_name, day + _between(r, 1, 10))
            author = self.actor()
        self.email(ts, category, author, content)

    def write_activities(self) -> None:
        if not self.events:
            return
        gen = self.gen
        self.events.sort()
        rows = self.batch["customer_activities"]
        activity_id = gen.ids["customer_activities"]
        customer_id = self.customer_id
        for ts, _, kind, actor_id, actor_label, summary, details, ref_type, ref_id, pinned in self.events:
            rows.append(
                (
                    activity_id,
                    customer_id,
                    kind,
                    actor_id,
                    actor_label,
                    ts,
                    summary,
                    details,
                    ref_type,
                    ref_id,
                    pinned,
                )
            )
            activity_id += 1
        gen.ids["customer_activities"] = activity_id


def _payment_reference(r: random.Random, method: str) -> str | None:
    if method == "card":
        return f"AUTH {_between(r, 100000, 999999)}"
    if method == "debit":
        return f"INTERAC {_between(r, 10**7, 10**8 - 1)}"
    if method == "cheque":
        return f"#{_between(r, 100, 9999)}"
    if method == "transfer":
        return f"VIR-{_between(r, 10**7, 10**8 - 1)}"
    return None


def _consent_note(language: str, action: str, source: str) -> str | None:
    notes = {
        ("granted", "in_person"): ("Consentement donné au comptoir", "Given at the service counter"),
        ("granted", "paper_form"): ("Formulaire papier signé", "Signed paper form"),
        ("granted", "phone"): ("Consentement verbal au téléphone", "Verbal consent over the phone"),
        ("granted", "web_form"): ("Case cochée dans le formulaire en ligne", "Box ticked on the web form"),
        ("granted", "import"): ("Importé de l'ancien système", "Imported from the previous system"),
        ("withdrawn", "web_form"): (
            "Désabonnement par le lien du courriel",
            "Unsubscribed through the email link",
        ),
        ("withdrawn", "email"): ("Demande reçue par courriel", "Request received by email"),
        ("withdrawn", "phone"): ("Demande du client au téléphone", "Customer asked over the phone"),
        ("withdrawn", "in_person"): ("Demande du client au comptoir", "Customer asked at the counter"),
    }
    pair = notes.get((action, source))
    return None if pair is None else pair[0 if language == "fr" else 1]


def _invoice_email(language: str, first: str, number: str, amount: str) -> tuple[str, str]:
    if language == "fr":
        return (
            f"Votre facture {number} – ChronoTech",
            f"Bonjour {first},\n\nVous trouverez ci-joint votre facture {number} au montant de {amount}.\n"
            f"Merci de votre confiance.\n\n{SIGNATURE['fr']}",
        )
    return (
        f"Your invoice {number} – ChronoTech",
        f"Hello {first},\n\nPlease find attached your invoice {number} for {amount}.\n"
        f"Thank you for your business.\n\n{SIGNATURE['en']}",
    )


def _survey_email(language: str, first: str, day: int) -> tuple[str, str]:
    when = _long_date(day, language)
    if language == "fr":
        return (
            f"Votre avis sur votre visite du {when}",
            f"Bonjour {first},\n\nComment s'est passée votre visite du {when}? Répondez à notre sondage de "
            f"deux minutes : votre avis nous aide à nous améliorer.\n\n{SIGNATURE['fr']}",
        )
    return (
        f"How was your visit on {when}?",
        f"Hello {first},\n\nHow did your visit on {when} go? Our two-minute survey helps us do better.\n\n"
        f"{SIGNATURE['en']}",
    )


def _reminder_email(language: str, first: str, make: str, model: str) -> tuple[str, str]:
    if language == "fr":
        return (
            f"Rappel d'entretien pour votre {make} {model}",
            f"Bonjour {first},\n\nVotre {make} {model} arrive à son prochain entretien. Appelez-nous ou "
            f"répondez à ce courriel pour prendre rendez-vous.\n\n{SIGNATURE['fr']}",
        )
    return (
        f"Service reminder for your {make} {model}",
        f"Hello {first},\n\nYour {make} {model} is due for service. Call us or reply to this email to book "
        f"an appointment.\n\n{SIGNATURE['en']}",
    )


def _marketing_email(language: str, first: str, month: int) -> tuple[str, str]:
    if month in (9, 10, 11):
        theme = "winter" if month != 9 else "rust"
    elif month in (3, 4, 5):
        theme = "spring"
    elif month in (6, 7):
        theme = "ac"
    else:
        theme = "news"
    subject = MARKETING[theme][0 if language == "fr" else 1]
    if language == "fr":
        body = (
            f"Bonjour {first},\n\n{subject}. Réservez en ligne ou par téléphone.\n\n{SIGNATURE['fr']}\n"
            "Pour ne plus recevoir nos offres, cliquez sur « Se désabonner »."
        )
    else:
        body = (
            f"Hello {first},\n\n{subject}. Book online or by phone.\n\n{SIGNATURE['en']}\n"
            "To stop receiving our offers, click “Unsubscribe”."
        )
    return subject, body


def _appointment_email(language: str, first: str, day: int) -> tuple[str, str]:
    when = _long_date(day, language)
    if language == "fr":
        return (
            f"Confirmation de votre rendez-vous du {when}",
            f"Bonjour {first},\n\nNous vous attendons le {when}. Pour changer l'heure, appelez-nous.\n\n"
            f"{SIGNATURE['fr']}",
        )
    return (
        f"Your appointment on {when} is confirmed",
        f"Hello {first},\n\nWe look forward to seeing you on {when}. To change the time, give us a call.\n\n"
        f"{SIGNATURE['en']}",
    )


# -- numbering pass --------------------------------------------------------------------------------------


def _plan_numbers(gen: _Generator, count: int) -> tuple[set[int], set[int]]:
    """Walk every customer's plan once to give work orders and invoices numbers in time order."""
    wo, inv = gen.wo_numbers, gen.invoice_numbers
    year_of: dict[int, int] = {}
    for index in range(count):
        for planned in gen.plan(index).work_orders:
            year = year_of.get(planned.day)
            if year is None:
                year = year_of[planned.day] = date.fromordinal(planned.day).year
            wo.add(planned.opened, year)
            if planned.status == "completed":
                year = year_of.get(planned.closed_day)
                if year is None:
                    year = year_of[planned.closed_day] = date.fromordinal(planned.closed_day).year
                inv.add(planned.closed, year)
    return set(wo.years), set(inv.years)


async def _last_numbers(conn: AsyncConnection, table: Table, prefix: str, years: set[int]) -> dict[int, int]:
    """The highest sequence already used per year, so a second seed continues after the first."""
    last = {}
    for year in sorted(years):
        pattern = f"{prefix}-{year}-"
        number = (
            await conn.execute(
                select(table.c.number)
                .where(table.c.number.like(f"{pattern}%"))
                .order_by(func.length(table.c.number).desc(), table.c.number.desc())
                .limit(1)
            )
        ).scalar()
        if number is not None and number[len(pattern) :].isdigit():
            last[year] = int(number[len(pattern) :])
    return last


# -- users -----------------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _demo_hash() -> str:
    return hash_password(DEMO_PASSWORD)


@lru_cache(maxsize=1)
def _unusable_hashes() -> tuple[str, ...]:
    """Argon2 hashes of random, forgotten passwords: the accounts exist but nobody can sign in with them."""
    return tuple(hash_password(secrets.token_urlsafe(24)) for _ in STAFF_ADVISORS)


async def _ensure_users(conn: AsyncConnection) -> tuple[list[int], int]:
    """The advisors' ids (the demo advisor first) and how many users were created."""
    wanted = DEMO_USERS + STAFF_ADVISORS
    existing = {
        email: (user_id, role)
        for user_id, email, role in (
            await conn.execute(
                select(users.c.id, users.c.email, users.c.role).where(
                    users.c.email.in_([u[0] for u in wanted])
                )
            )
        ).all()
    }
    created = 0
    advisors: list[int] = []
    everyone: list[int] = []
    missing = [user for user in wanted if user[0] not in existing]
    if missing:
        demo_hash = await asyncio.to_thread(_demo_hash)
        unusable = await asyncio.to_thread(_unusable_hashes)
    for position, (email, name, role, language) in enumerate(wanted):
        if email in existing:
            user_id, role = existing[email]
        else:
            password_hash = demo_hash if position < len(DEMO_USERS) else unusable[position - len(DEMO_USERS)]
            user = await create_user(
                conn, email=email, name=name, role=role, password_hash=password_hash, language=language
            )
            user_id = user.id
            created += 1
        if role == "advisor":
            advisors.append(user_id)
        everyone.append(user_id)
    return advisors or everyone, created


# -- writing ---------------------------------------------------------------------------------------------


async def _max_ids(conn: AsyncConnection) -> dict[str, int]:
    next_ids = {}
    for name, table in TABLES.items():
        value = (await conn.execute(select(func.max(table.c.id)))).scalar()
        next_ids[name] = (value or 0) + 1
    return next_ids


# MySQL string literals need their quote and backslash escaped (only the quote, doubled, under
# NO_BACKSLASH_ESCAPES). str.replace is much faster than str.translate with multi-character replacements.
def _escape_backslashes(text: str) -> str:
    if "'" in text or "\\" in text:
        return text.replace("\\", "\\\\").replace("'", "\\'")
    return text


def _escape_quotes(text: str) -> str:
    return text.replace("'", "''") if "'" in text else text


STATEMENT_BYTES = 2_000_000  # per multi-row INSERT; MariaDB's default max_allowed_packet is 16 MiB


class _UTCDays(dict):
    """Epoch day number -> "YYYY-MM-DD ", filled on first use."""

    def __missing__(self, day: int) -> str:
        text = self[day] = date.fromordinal(_EPOCH_ORDINAL + day).isoformat() + " "
        return text


_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


@lru_cache(maxsize=1)
def _times_of_day() -> tuple[str, ...]:
    return tuple(
        f"{hour:02d}:{minute:02d}:{second:02d}"
        for hour in range(24)
        for minute in range(60)
        for second in range(60)
    )


def _mysql_row_formatter(name: str, escape: Callable[[str], str]) -> Callable[[tuple], str]:
    """A compiled function turning one row tuple into a MySQL VALUES tuple literal."""
    table = TABLES[name]
    parts = []
    for position, column_name in enumerate(COLUMNS[name]):
        column = table.c[column_name]
        value = f"row[{position}]"
        type_name = type(column.type).__name__
        if type_name == "JSON":
            literal = f'"\'" + _esc(_dumps({value})) + "\'"'
        elif type_name == "UTCDateTime":  # epoch seconds
            literal = f'"\'" + _days[{value} // 86400] + _times[{value} % 86400] + "\'"'
        elif type_name == "Date":
            literal = f'"\'" + {value}.isoformat() + "\'"'
        elif type_name == "Boolean":
            literal = f"('1' if {value} else '0')"
        elif type_name in ("String", "Text"):
            literal = f'"\'" + _esc({value}) + "\'"'
        else:  # integers
            literal = f"str({value})"
        if column.nullable:
            literal = f"('NULL' if {value} is None else {literal})"
        parts.append(literal)
    body = ", ".join(parts)
    source = f"def format_row(row):\n    return '(' + ','.join(({body},)) + ')'\n"
    namespace = {
        "_esc": escape,
        "_dumps": json.JSONEncoder(ensure_ascii=False, check_circular=False).encode,
        "_days": _UTCDays(),
        "_times": _times_of_day(),
    }
    exec(compile(source, f"<seed row formatter for {name}>", "exec"), namespace)
    return namespace["format_row"]


class _MySQLStatements:
    """Renders a chunk as multi-row INSERT statements: pure CPU, so it runs in the generating thread."""

    def __init__(self, backslash_escapes: bool) -> None:
        escape = _escape_backslashes if backslash_escapes else _escape_quotes
        self.formatters = {name: _mysql_row_formatter(name, escape) for name in COLUMNS}
        self.heads = {
            name: f"INSERT INTO {name} ({', '.join(columns)}) VALUES " for name, columns in COLUMNS.items()
        }

    def render(self, batch: dict[str, list[tuple]]) -> list[str]:
        statements = []
        for name, rows in batch.items():
            if not rows:
                continue
            format_row, head = self.formatters[name], self.heads[name]
            values: list[str] = []
            size = 0
            for row in rows:
                literal = format_row(row)
                values.append(literal)
                size += len(literal) + 1
                if size >= STATEMENT_BYTES:
                    statements.append(head + ",".join(values))
                    values, size = [], 0
            if values:
                statements.append(head + ",".join(values))
        return statements


async def _write_statements(conn: AsyncConnection, statements: list[str]) -> None:
    raw = await conn.get_raw_connection()
    cursor = await raw.driver_connection.cursor()
    try:
        for statement in statements:
            await cursor.execute(statement)  # no parameters: the driver sends the text as it is
    finally:
        await cursor.close()


async def _write_rows(conn: AsyncConnection, batch: dict[str, list[tuple]]) -> None:
    """Through SQLAlchemy (SQLite): epoch seconds become the aware datetimes UTCDateTime wants."""
    fromtimestamp = datetime.fromtimestamp
    for name, rows in batch.items():
        if not rows:
            continue
        columns = COLUMNS[name]
        instants = [
            i for i, column in enumerate(columns) if isinstance(TABLES[name].c[column].type, UTCDateTime)
        ]
        records = []
        for row in rows:
            record = dict(zip(columns, row, strict=True))
            for i in instants:
                if row[i] is not None:
                    record[columns[i]] = fromtimestamp(row[i], UTC)
            records.append(record)
        await conn.execute(TABLES[name].insert(), records)


def generate(
    *,
    customers: int,
    seed: int = 1,
    today: date | None = None,
    activities_per_customer: int = 50,
    advisors: list[int] | None = None,
    next_ids: dict[str, int] | None = None,
    timezone: ZoneInfo = SHOP_TIMEZONE,
    chunk_size: int = CHUNK_SIZE,
) -> Iterator[dict[str, list[tuple]]]:
    """The rows of a seed, chunk by chunk, without a database: a pure function of its arguments.

    Rows are tuples in COLUMNS order, with instants as UTC epoch seconds; work-order and invoice numbers
    start at 1 for every year.
    """
    gen = _make_generator(
        seed,
        today,
        timezone,
        activities_per_customer,
        advisors or [1, 2, 3],
        next_ids or dict.fromkeys(COLUMNS, 1),
    )
    _plan_numbers(gen, customers)
    gen.wo_numbers.assign({})
    gen.invoice_numbers.assign({})
    for start in range(0, customers, chunk_size):
        yield gen.rows(start, min(customers, start + chunk_size))


def _make_generator(
    seed: int,
    today: date | None,
    timezone: ZoneInfo,
    activities_per_customer: int,
    advisors: list[int],
    next_ids: dict[str, int],
) -> _Generator:
    if today is None:
        today = datetime.now(timezone).date()
    return _Generator(
        seed=seed,
        today=today,
        timezone=timezone,
        activities_per_customer=activities_per_customer,
        advisors=advisors,
        next_ids=next_ids,
        work_order_numbers=_Numbers(),
        invoice_numbers=_Numbers(),
    )


async def seed(
    engine: AsyncEngine,
    *,
    customers: int,
    seed: int = 1,
    activities_per_customer: int = 50,
    today: date | None = None,
    timezone: ZoneInfo = SHOP_TIMEZONE,
    progress: Progress | None = None,
) -> dict[str, int]:
    """Write `customers` customers and everything around them; returns {table: rows written} ("users":
    how many staff accounts were created, 0 when they all existed).

    `activities_per_customer` is the mean length of a customer's history (lognormal spread: a few customers
    have hundreds, many a handful; 0 writes no history at all). `today` anchors the history (it ends the
    evening before); by default the current date in `timezone`, the shop's. `progress(stage, done, total)` is
    called from the event loop after each stage and each committed chunk: "users", "planning", "customers".
    """
    if customers < 0:
        raise ValueError("customers must not be negative")
    counts = {"users": 0, **dict.fromkeys(COLUMNS, 0)}
    async with engine.connect() as conn:
        mysql = conn.dialect.name == "mysql"
        if mysql:
            await conn.exec_driver_sql("SET SESSION unique_checks = 0, foreign_key_checks = 0")
        try:
            advisors, counts["users"] = await _ensure_users(conn)
            staff = len(DEMO_USERS) + len(STAFF_ADVISORS)
            if progress is not None:
                progress("users", staff, staff)
            next_ids = await _max_ids(conn)
            await conn.commit()
            gen = _make_generator(seed, today, timezone, activities_per_customer, advisors, next_ids)
            wo_years, invoice_years = await asyncio.to_thread(_plan_numbers, gen, customers)
            if progress is not None:
                progress("planning", customers, customers)
            gen.wo_numbers.assign(await _last_numbers(conn, work_orders, "WO", wo_years))
            gen.invoice_numbers.assign(await _last_numbers(conn, invoices, "INV", invoice_years))
            renderer = None
            if mysql:
                sql_mode = (await conn.exec_driver_sql("SELECT @@SESSION.sql_mode")).scalar() or ""
                renderer = _MySQLStatements(backslash_escapes="NO_BACKSLASH_ESCAPES" not in sql_mode.upper())
            await conn.commit()

            def prepare(start: int) -> tuple[int, dict[str, list[tuple]], list[str] | None]:
                stop = min(customers, start + CHUNK_SIZE)
                batch = gen.rows(start, stop)
                return stop, batch, renderer.render(batch) if renderer is not None else None

            # Generate the next chunk in a thread while the database stores this one.
            pending = asyncio.ensure_future(asyncio.to_thread(prepare, 0)) if customers else None
            while pending is not None:
                stop, batch, statements = await pending
                pending = (
                    asyncio.ensure_future(asyncio.to_thread(prepare, stop)) if stop < customers else None
                )
                try:
                    async with conn.begin():  # the raw driver's inserts too: they share the connection
                        if statements is not None:
                            await _write_statements(conn, statements)
                        else:
                            await _write_rows(conn, batch)
                except BaseException:
                    if pending is not None:
                        await asyncio.gather(pending, return_exceptions=True)
                    raise
                for name, rows in batch.items():
                    counts[name] += len(rows)
                if progress is not None:
                    progress("customers", stop, customers)
        finally:
            if mysql:
                try:
                    await conn.rollback()
                    await conn.exec_driver_sql("SET SESSION unique_checks = 1, foreign_key_checks = 1")
                    await conn.commit()
                except Exception:
                    await conn.invalidate()  # never hand a connection with checks off back to the pool
    return counts
