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
# Several processes through a real Redis (tests/redis_support.py starts its own servers).
command -v redis-server >/dev/null || need_apt redis-server
# The shipped nginx configuration is checked and run in front of the app (tests/test_deploy.py).
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need_apt nginx
.venv/bin/python -m pip install -q --disable-pip-version-check -r requirements-dev.txt
.venv/bin/python -m ruff check .
# One worker per core (LIVELITE_TEST_WORKERS=0 runs in this process); browser tests
# all go to one worker (tests/conftest.py). The slowest tests are listed at the end.
pytest=(.venv/bin/python -m pytest -n "${LIVELITE_TEST_WORKERS:-auto}" --dist loadgroup --durations=15)
echo "== the test suite on SQLite"
"${pytest[@]}" "$@"
# LIVELITE_TEST_POSTGRES=1: then everything but the browser tests again on a real
# PostgreSQL (scripts/postgres.sh installs and starts a throwaway server).
if [ "${LIVELITE_TEST_POSTGRES:-0}" = 1 ]; then
  echo "== the test suite on PostgreSQL (browser tests excepted)"
  url=$(scripts/postgres.sh start)
  LIVELITE_TEST_DATABASE_URL=$url "${pytest[@]}" --ignore=tests/e2e "$@"
fi
