#!/usr/bin/env bash
# Install everything the tests need (Python packages in .venv, Debian's Chromium) and
# run the linter and the whole test suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
apt_updated=""
need_apt() {
  if [ -z "$apt_updated" ]; then $SUDO apt-get update -qq; apt_updated=1; fi
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv 2>/dev/null || { need_apt python3-venv; rm -rf .venv; "$PYTHON" -m venv .venv; }
fi
[ -x /usr/bin/chromium ] || need_apt chromium fonts-dejavu-core
.venv/bin/python -m pip install -q --disable-pip-version-check -r requirements-dev.txt
.venv/bin/python -m ruff check .
# One worker per core (LIVELITE_TEST_WORKERS=0 runs in this process); browser tests
# all go to one worker (tests/conftest.py). The slowest tests are listed at the end.
exec .venv/bin/python -m pytest -n "${LIVELITE_TEST_WORKERS:-auto}" --dist loadgroup --durations=15 "$@"
