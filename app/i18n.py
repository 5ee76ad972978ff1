"""French and English: message catalogues (Babel .po files, read at start-up) and the language of what is
being rendered.

The language is the signed-in user's (chosen at sign-in, switchable from any page); before sign-in, the
browser's preference. Live fragments are rendered per viewer language (app.live.render puts the viewer on
`g.user`).
Source strings are English; `make messages` extracts them and updates app/translations/fr.po.
"""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import NullTranslations, Translations
from quart import (
    current_app,
    g,
    has_app_context,
    has_request_context,
    has_websocket_context,
    request,
    session,
)

LANGUAGES = ("fr", "en")
DEFAULT_LANGUAGE = "fr"
SOURCE_LANGUAGE = "en"
LOCALES = {"fr": "fr_CA", "en": "en_CA"}
LANGUAGE_NAMES = {"fr": "Français", "en": "English"}
CATALOGUES = Path(__file__).parent / "translations"


@cache
def translations(language: str) -> NullTranslations:
    """The catalogue of a language, compiled in memory from its .po file (English is the source)."""
    path = CATALOGUES / f"{language}.po"
    if language == "en" or not path.exists():
        return NullTranslations()
    with path.open("rb") as source:
        catalogue = read_po(source, locale=LOCALES[language])
    compiled = io.BytesIO()
    write_mo(compiled, catalogue, use_fuzzy=False)
    compiled.seek(0)
    return Translations(fp=compiled)


def current_language() -> str:
    """The language of what is being rendered now: the user's (or the live viewer's), this browser's choice,
    its Accept-Language, else the shop's (SHOP_LANGUAGE)."""
    if not has_app_context():
        return SOURCE_LANGUAGE  # scripts, the command line: the language the code is written in
    user = g.get("user")
    if user is not None and getattr(user, "language", None) in LANGUAGES:
        return user.language
    if has_request_context() or has_websocket_context():
        chosen = session.get("language")
        if chosen in LANGUAGES:
            return chosen
        if has_request_context():
            best = request.accept_languages.best_match(LANGUAGES)
            if best:
                return best
    settings = current_app.config.get("SETTINGS")
    return settings.shop_language if settings is not None else DEFAULT_LANGUAGE


def gettext(message: str, **variables) -> str:
    text = translations(current_language()).ugettext(message)
    return text % variables if variables else text


def ngettext(singular: str, plural: str, n: int, **variables) -> str:
    text = translations(current_language()).ungettext(singular, plural, n)
    return text % {"num": n, **variables}


def ngettext_template(singular: str, plural: str, n: int) -> str:
    # Jinja fills %(num)d and the other placeholders in itself.
    return translations(current_language()).ungettext(singular, plural, n)


def format_number(value: float | int | None, decimals: int | None = None) -> str:
    """12345 -> "12 345" (fr-CA) or "12,345" (en-CA); `decimals` fixes the digits after the separator."""
    if value is None:
        return ""
    pattern = None
    if decimals is not None:
        pattern = "#,##0" + ("." + "0" * decimals if decimals else "")
    return format_decimal(value, format=pattern, locale=LOCALES[current_language()])


def format_money(cents: int | None, currency: str = "CAD") -> str:
    """1234567 -> "$12,345.67" (en-CA) or "12 345,67 $" (fr-CA)."""
    if cents is None:
        return ""
    sign = "-" if cents < 0 else ""
    units, hundredths = divmod(abs(cents), 100)
    symbol = "$" if currency == "CAD" else f" {currency}"
    if current_language() == "fr":
        grouped = f"{units:,}".replace(",", "\u202f")
        return f"{sign}{grouped},{hundredths:02d}\u00a0{symbol.strip()}"
    return (
        f"{sign}{symbol}{units:,}.{hundredths:02d}"
        if currency == "CAD"
        else f"{sign}{units:,}.{hundredths:02d}{symbol}"
    )


def N_(message: str) -> str:
    """Mark a string for extraction where it is defined (labels); gettext() translates it when shown."""
    return message


def init_app(app) -> None:
    app.jinja_env.add_extension("jinja2.ext.i18n")
    app.jinja_env.install_gettext_callables(gettext=gettext, ngettext=ngettext_template, newstyle=True)
    app.jinja_env.globals.update(current_language=current_language, language_names=LANGUAGE_NAMES)
