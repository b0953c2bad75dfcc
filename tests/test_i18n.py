"""Translations: every catalogue is complete, current and consistent, and pages use it.

The catalogues live in ``translations/`` and are kept up to date with
``scripts/i18n.sh update`` (then translate, then ``scripts/i18n.sh compile``). These
tests extract the strings from the code again, so a string added to a template or a
module without a translation fails here, with the list of what is missing.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import Counter
from io import BytesIO
from pathlib import Path

import flask_migrate
import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.mofile import read_mo, write_mo
from babel.messages.plurals import get_plural
from babel.messages.pofile import read_po

from livelite import create_app
from livelite.config import DefaultConfig
from livelite.extensions import db

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "i18n.sh"
TRANSLATIONS = ROOT / "translations"
LOCALES = [lang for lang in DefaultConfig.LANGUAGES if lang != DefaultConfig.BABEL_DEFAULT_LOCALE]

# Any %-conversion, named or not, and "%%".
PLACEHOLDER = re.compile(r"%(?:\([^)]*\))?[#0\- +]*(?:\*|\d+)?(?:\.(?:\*|\d+))?[hlL]?[diouxXeEfFgGcrsa%]")
NNBSP = "\u202f"  # narrow no-break space, used before : ; ? ! and inside « »


def _run_script(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(SCRIPT), *args],
        env={**os.environ, "PYTHON": sys.executable},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _read_po(path: Path, locale: str | None = None) -> Catalog:
    with path.open("rb") as handle:
        return read_po(handle, locale=locale)


def _po_path(locale: str) -> Path:
    return TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po"


def _messages(catalog: Catalog) -> dict[tuple, Message]:
    """Every message but the header, keyed like gettext keys them."""
    return {(m.context, m.id): m for m in catalog if m.id}


def _forms(message: Message) -> tuple[str, ...]:
    """The translation as a tuple (read_mo gives plural forms as a list)."""
    string = message.string
    return tuple(string) if isinstance(string, (tuple, list)) else (string,)


def _ids(message: Message) -> tuple[str, ...]:
    return tuple(message.id) if isinstance(message.id, (tuple, list)) else (message.id,)


def _show(key: tuple) -> str:
    context, msgid = key
    text = msgid[0] if isinstance(msgid, tuple) else msgid
    return repr(text) + (f" [{context}]" if context else "")


@pytest.fixture(scope="module")
def extracted(tmp_path_factory) -> Catalog:
    """The strings in the code right now, extracted the way scripts/i18n.sh does it."""
    pot = tmp_path_factory.mktemp("i18n") / "messages.pot"
    result = _run_script("extract", str(pot))
    assert result.returncode == 0, result.stdout + result.stderr
    catalog = _read_po(pot)
    assert len(_messages(catalog)) > 100, "the extraction found almost nothing; is babel.cfg right?"
    return catalog


@pytest.fixture(scope="module", params=LOCALES)
def locale_catalog(request) -> tuple[str, Catalog]:
    path = _po_path(request.param)
    assert path.exists(), f"{path} is missing: run scripts/i18n.sh update"
    return request.param, _read_po(path, request.param)


# (a) complete and current ----------------------------------------------------------


def test_committed_template_matches_the_code(extracted):
    committed = _messages(_read_po(TRANSLATIONS / "messages.pot"))
    fresh = _messages(extracted)
    new = sorted(map(_show, fresh.keys() - committed.keys()))
    gone = sorted(map(_show, committed.keys() - fresh.keys()))
    assert not new and not gone, (
        f"translations/messages.pot is out of date (run scripts/i18n.sh update); new: {new}, gone: {gone}"
    )


def test_every_message_is_translated(extracted, locale_catalog):
    locale, catalog = locale_catalog
    assert not catalog.fuzzy, f"{locale}: the header is marked fuzzy, so nothing would be compiled"
    have = _messages(catalog)
    missing, untranslated, fuzzy = [], [], []
    for key, template in _messages(extracted).items():
        message = have.get(key)
        if message is None or message.pluralizable != template.pluralizable:
            missing.append(_show(key))
            continue
        forms = _forms(message)
        if not all(forms) or (message.pluralizable and len(forms) != catalog.num_plurals):
            untranslated.append(_show(key))
        if message.fuzzy:
            fuzzy.append(_show(key))
    stale = sorted(map(_show, have.keys() - _messages(extracted).keys()))
    assert not missing, f"{locale}: not in the catalogue (run scripts/i18n.sh update): {missing}"
    assert not untranslated, f"{locale}: untranslated: {untranslated}"
    assert not fuzzy, f"{locale}: fuzzy (check, then remove the flag): {fuzzy}"
    assert not stale, f"{locale}: no longer in the code (run scripts/i18n.sh update): {stale}"


def test_plural_forms_are_the_languages_own(locale_catalog):
    locale, catalog = locale_catalog
    assert catalog.plural_forms == get_plural(locale).plural_forms
    if locale == "fr":
        assert catalog.plural_forms == "nplurals=2; plural=(n > 1);"


def test_compiled_catalogue_matches_the_po(locale_catalog):
    locale, catalog = locale_catalog
    mo_path = _po_path(locale).with_suffix(".mo")
    assert mo_path.exists(), f"{mo_path} is missing: run scripts/i18n.sh compile"

    def entries(mo_file) -> set[tuple]:
        return {(m.context, _ids(m), tuple(_forms(m))) for m in read_mo(mo_file) if m.id}

    buffer = BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    expected = entries(buffer)
    with mo_path.open("rb") as handle:
        actual = entries(handle)
    assert actual == expected, f"{mo_path} is not compiled from the current .po: run scripts/i18n.sh compile"


def test_check_script_agrees():
    result = _run_script("check")
    assert result.returncode == 0, result.stdout + result.stderr


# (b) placeholders and markup ---------------------------------------------------------


def test_placeholders_match_the_source(locale_catalog):
    """Each translation uses exactly the msgid's placeholders (a plural form: those of
    either English form, since one form covers several numbers)."""
    locale, catalog = locale_catalog
    wrong = []
    for key, message in _messages(catalog).items():
        ids, forms = _ids(message), _forms(message)
        if message.pluralizable:
            expected = {spec for msgid in ids for spec in PLACEHOLDER.findall(msgid)}
            for form in forms:
                if form and set(PLACEHOLDER.findall(form)) != expected:
                    wrong.append((_show(key), form))
        elif forms[0] and Counter(PLACEHOLDER.findall(forms[0])) != Counter(PLACEHOLDER.findall(ids[0])):
            wrong.append((_show(key), forms[0]))
    assert not wrong, f"{locale}: placeholders differ from the English: {wrong}"


def test_translations_add_no_markup(locale_catalog):
    """Templates mark translations safe, so a translation must not bring its own HTML."""
    locale, catalog = locale_catalog
    wrong = [
        (_show(key), form)
        for key, message in _messages(catalog).items()
        for form in _forms(message)
        if any(form.count(c) > "".join(_ids(message)).count(c) for c in "<>&")
    ]
    assert not wrong, f"{locale}: translations add <, > or &: {wrong}"


@pytest.mark.skipif("fr" not in LOCALES, reason="no French catalogue")
def test_french_typography_is_consistent():
    """Typographic apostrophes, and a narrow no-break space before ; ? ! : » and after «."""
    wrong = []
    for key, message in _messages(_read_po(_po_path("fr"), "fr")).items():
        for form in _forms(message):
            if "'" in form:
                wrong.append((_show(key), "straight apostrophe: use ’"))
            if re.search(r"[ \u00a0][;?!:»]|«[ \u00a0]", form):
                wrong.append((_show(key), "use a narrow no-break space (U+202F)"))
            if re.search(r"[\w)][;?!]|«[^\u202f]|[^\u202f]»", form):
                wrong.append((_show(key), "missing narrow no-break space"))
    assert not wrong, wrong


# (c) pages in French and in English -------------------------------------------------


@pytest.fixture
def site(tmp_path):
    app = create_app({"INSTANCE_PATH": tmp_path, "TESTING": True})
    with app.app_context():
        flask_migrate.upgrade()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(scope="module")
def french():
    """msgid -> the French translation, straight from the catalogue."""
    catalog = _read_po(_po_path("fr"), "fr")

    def translate(msgid: str) -> str:
        message = catalog.get(msgid)
        assert message is not None and message.string, f"no French for {msgid!r}"
        return message.string

    return translate


def _page(app, path: str, language: str):
    response = app.test_client().get(path, headers={"Accept-Language": language})
    return response, response.get_data(as_text=True)


def test_login_page_in_french(site, french):
    response, html = _page(site, "/login", "fr-FR,fr;q=0.9,en;q=0.5")
    assert response.status_code == 200
    assert '<html lang="fr">' in html
    assert french("Log in") == "Se connecter"
    for msgid in ("Log in", "Log in to LiveLite", "Username or email", "Password", "Remember me", "For You"):
        assert french(msgid) in html, msgid
    assert "Log in to LiveLite" not in html
    assert "Remember me" not in html


def test_login_page_in_english(site, french):
    response, html = _page(site, "/login", "en-GB,en;q=0.9")
    assert response.status_code == 200
    assert '<html lang="en">' in html
    for text in ("Log in", "Log in to LiveLite", "Username or email", "Remember me", "For You"):
        assert text in html
    assert french("Log in to LiveLite") not in html
    assert french("Remember me") not in html


def test_messages_from_python_code_are_french_too(site, french):
    response, html = _page(site, "/no-such-page", "fr")
    assert response.status_code == 404
    assert french("Not found") in html
    assert french("This page does not exist, or it was removed.") in html

    response = site.test_client().get("/api/v1/me", headers={"Accept-Language": "fr"})
    assert response.status_code == 401
    assert response.get_json()["error"]["message"] == french("Log in or send a personal access token.")


def test_plural_forms_are_used_at_run_time(site):
    from flask_babel import ngettext

    with site.test_request_context(headers={"Accept-Language": "fr"}):
        counts = {n: ngettext("%(num)s follower", "%(num)s followers", n) for n in (0, 1, 2)}
    assert counts == {0: "0 abonné(e)", 1: "1 abonné(e)", 2: "2 abonnés"}
