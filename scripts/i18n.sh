#!/usr/bin/env bash
# Translations (Babel / Flask-Babel). Runs from any directory.
#
#   scripts/i18n.sh extract [FILE]  source strings -> translations/messages.pot (or FILE)
#   scripts/i18n.sh update          extract, then merge the .pot into every locale's .po
#   scripts/i18n.sh compile         .po -> .mo (the .mo files are committed: no build at run time)
#   scripts/i18n.sh check           exit 1 if a catalogue is behind the source (CI, tests)
#
# A round: `update`, fill in every empty msgstr in translations/<lang>/LC_MESSAGES/messages.po,
# `compile`, then commit the .pot, .po and .mo together. `check` tells what is left to do.
#
# Python: $PYTHON if set, else the active virtualenv's, else the repo's .venv, else python3.
# Locales: $I18N_LOCALES (space separated), default "fr"; a missing .po is created.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CALLER_PWD=$PWD
cd "$ROOT"

TRANSLATIONS=translations
DOMAIN=messages
POT=$TRANSLATIONS/$DOMAIN.pot
LOCALES=${I18N_LOCALES:-fr}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

if [ -z "${PYTHON:-}" ]; then
  if [ -n "${VIRTUAL_ENV:-}" ] && [ -x "$VIRTUAL_ENV/bin/python" ]; then
    PYTHON=$VIRTUAL_ENV/bin/python
  elif [ -x "$ROOT/.venv/bin/python" ]; then
    PYTHON=$ROOT/.venv/bin/python
  else
    PYTHON=python3
  fi
fi
if ! "$PYTHON" -c "import babel" 2>/dev/null; then
  echo "i18n: $PYTHON cannot import Babel; activate the virtualenv or set PYTHON=..." >&2
  exit 2
fi

# Babel's CLI through $PYTHON (`python -m babel.messages.frontend` drops the exit status).
pybabel() {
  "$PYTHON" -c 'import sys; from babel.messages.frontend import main; sys.exit(main())' "$@"
}

# Writes the template to $1. Sorted by msgid and without file:line locations, so a
# change elsewhere in a file does not rewrite the whole catalogue; -c keeps the
# "# TRANSLATORS:" comments written next to a string in the code.
extract_to() {
  pybabel --quiet extract \
    -F babel.cfg \
    -k _l -k lazy_gettext -k lazy_ngettext:1,2 -k lazy_pgettext:1c,2 \
    -c TRANSLATORS: \
    --no-location --sort-output \
    --project=LiveLite --copyright-holder="LiveLite contributors" \
    --header-comment="# LiveLite messages. Workflow: scripts/i18n.sh (update, translate, compile)." \
    -o "$1" .
}

# Extracts to $1, but leaves $1 untouched when only POT-Creation-Date would change.
extract() {
  local target=$1 fresh=$WORK/extracted.pot
  extract_to "$fresh"
  if [ -f "$target" ] && diff -q <(grep -v '^"POT-Creation-Date:' "$target") \
                                 <(grep -v '^"POT-Creation-Date:' "$fresh") >/dev/null; then
    echo "i18n: $target is up to date"
  else
    mkdir -p "$(dirname "$target")"
    cp "$fresh" "$target"
    echo "i18n: wrote $target"
  fi
}

update() {
  extract "$POT"
  local locale
  for locale in $LOCALES; do
    # No fuzzy matching: a new or changed string comes in empty, never pre-filled with a
    # guess from a similar one. Removed strings stay at the end as "#~" for reference.
    pybabel --quiet update -i "$POT" -d "$TRANSLATIONS" -D "$DOMAIN" -l "$locale" \
      --no-fuzzy-matching --ignore-pot-creation-date --init-missing
    "$PYTHON" - "$TRANSLATIONS/$locale/LC_MESSAGES/$DOMAIN.po" <<'PY'
import sys

from babel.messages.pofile import read_po

path = sys.argv[1]
with open(path, "rb") as handle:
    catalog = read_po(handle)
todo = [
    m
    for m in catalog
    if m.id and (m.fuzzy or not all(m.string if isinstance(m.string, tuple) else (m.string,)))
]
print(f"i18n: {path}: {len(todo)} of {len(catalog)} entries to translate")
for message in todo:
    print("  -", message.id[0] if isinstance(message.id, tuple) else message.id)
PY
  done
}

compile_mo() {
  pybabel compile -d "$TRANSLATIONS" -D "$DOMAIN" --statistics
}

check() {
  local rc=0
  extract_to "$WORK/extracted.pot"
  "$PYTHON" - "$WORK/extracted.pot" "$POT" "$TRANSLATIONS" "$DOMAIN" $LOCALES <<'PY' || rc=$?
"""Compare the fresh extraction with the committed .pot, .po and .mo files."""

import gettext
import io
import os
import sys

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

fresh_path, pot_path, directory, domain, *locales = sys.argv[1:]
problems = []


def load(path, locale=None):
    with open(path, "rb") as handle:
        return read_po(handle, locale=locale)


def key(message):
    return (message.context, message.id)


def label(message):
    msgid = message.id[0] if isinstance(message.id, tuple) else message.id
    return repr(msgid) + (f" (context {message.context!r})" if message.context else "")


fresh = load(fresh_path)
wanted = {key(m): m for m in fresh if m.id}

if not os.path.exists(pot_path):
    problems.append(f"{pot_path} is missing: run scripts/i18n.sh update")
else:
    committed = {key(m) for m in load(pot_path) if m.id}
    for k in sorted(wanted.keys() - committed, key=str):
        problems.append(f"{pot_path}: missing {label(wanted[k])}: run scripts/i18n.sh update")
    for k in sorted(committed - wanted.keys(), key=str):
        problems.append(f"{pot_path}: {k[1]!r} is no longer in the source: run scripts/i18n.sh update")

for locale in locales:
    po_path = os.path.join(directory, locale, "LC_MESSAGES", f"{domain}.po")
    mo_path = po_path[:-3] + ".mo"
    if not os.path.exists(po_path):
        problems.append(f"{po_path} is missing: run scripts/i18n.sh update")
        continue
    catalog = load(po_path, locale)
    if catalog.fuzzy:
        problems.append(f"{po_path}: the header is marked fuzzy (remove '#, fuzzy' above msgid \"\")")
    have = {key(m): m for m in catalog if m.id}
    for k, template in wanted.items():
        message = have.get(k)
        if message is None:
            problems.append(f"{po_path}: missing {label(template)}: run scripts/i18n.sh update")
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if message.pluralizable != template.pluralizable:
            problems.append(f"{po_path}: {label(message)} has the wrong plural form: run update")
        elif not all(strings) or (message.pluralizable and len(strings) != catalog.num_plurals):
            problems.append(f"{po_path}: untranslated {label(message)}")
        if message.fuzzy:
            problems.append(f"{po_path}: fuzzy {label(message)} (check it, then remove the flag)")
    for k in sorted(have.keys() - wanted.keys(), key=str):
        problems.append(f"{po_path}: {label(have[k])} is no longer in the source: run update")
    for message, errors in catalog.check():
        for error in errors:
            problems.append(f"{po_path}: {label(message)}: {error}")

    if not os.path.exists(mo_path):
        problems.append(f"{mo_path} is missing: run scripts/i18n.sh compile")
        continue
    # Compare what gettext would read, not bytes, so another Babel version that lays out
    # the file differently does not count as a change.
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    expected = gettext.GNUTranslations(buffer)._catalog
    with open(mo_path, "rb") as handle:
        actual = gettext.GNUTranslations(handle)._catalog
    if actual != expected:
        problems.append(f"{mo_path} does not match {po_path}: run scripts/i18n.sh compile")

for problem in problems:
    print(f"i18n: {problem}", file=sys.stderr)
if problems:
    sys.exit(1)
print(f"i18n: catalogues are complete and current ({len(wanted)} messages; {', '.join(locales)})")
PY
  return "$rc"
}

case "${1:-}" in
  extract)
    target=${2:-$POT}
    case $target in /*) ;; *) [ -n "${2:-}" ] && target=$CALLER_PWD/$target ;; esac
    extract "$target"
    ;;
  update) update ;;
  compile) compile_mo ;;
  check) check ;;
  *)
    sed -n '2,13p' "$ROOT/scripts/i18n.sh" | sed 's/^# \{0,1\}//'
    [ -z "${1:-}" ] || [ "$1" = "-h" ] || [ "$1" = "--help" ] || exit 2
    ;;
esac
