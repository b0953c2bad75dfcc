#!/usr/bin/env bash
# Try LiveLite's multi-process mode on this machine (docs/deploy.md): Redis, one ingest
# and N web gunicorns, and nginx in front of them on http://127.0.0.1:8080/, configured
# as in production (deploy/). Ctrl-C stops everything.
#
#   scripts/run-cluster.sh [N]      N web processes (default 2)
#
# LIVELITE_INSTANCE_PATH (default ./instance) is shared by every process, as with
# `python app.py`. LIVELITE_REDIS_URL uses a Redis of yours; without it a private
# redis-server is started (no persistence). LIVELITE_CLUSTER_LISTEN (127.0.0.1:8080) is
# where nginx listens; LIVELITE_CLUSTER_PORT (8000) the ingest process's port, the web
# processes taking the next ones. Logs and nginx's files go to <instance>/cluster/.
# VENV (default .venv, as scripts/run.sh) is the virtualenv it installs into and runs.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
WEB=${1:-2}
LISTEN=${LIVELITE_CLUSTER_LISTEN:-127.0.0.1:8080}
BASE_PORT=${LIVELITE_CLUSTER_PORT:-8000}
INSTANCE=$(realpath -m "${LIVELITE_INSTANCE_PATH:-$ROOT/instance}")
RUN="$INSTANCE/cluster"
PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}  # the virtualenv to install into and run from

# What run.sh installs, plus gunicorn (requirements.txt); nginx and redis from Debian.
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
missing=()
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx)
[ -n "${LIVELITE_REDIS_URL:-}" ] || command -v redis-server >/dev/null || missing+=(redis-server)
if [ ${#missing[@]} -gt 0 ]; then
  echo "Installing ${missing[*]} (Debian)..." >&2
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
  # Debian starts its own nginx on port 80 when installing it; ours needs none of it.
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
fi
"$VENV"/bin/python -m pip install -q --disable-pip-version-check -r requirements.txt

mkdir -p "$RUN/nginx/tmp"
# Each process in a session of its own, so that Ctrl-C reaches only this script, which
# then stops them in order.
pids=()
cleanup() {
  trap - INT TERM EXIT
  echo " * Stopping..." >&2
  # Newest first: nginx, the web processes, the ingest process (it finishes its
  # ffmpeg's files), Redis last.
  for (( i=${#pids[@]}-1; i>=0; i-- )); do
    kill -TERM "${pids[i]}" 2>/dev/null || true
    wait "${pids[i]}" 2>/dev/null || true
  done
}
trap 'cleanup; exit 130' INT TERM
trap cleanup EXIT

wait_for() {  # URL LOG PID: until URL answers 200, or PID has died (then LOG says why)
  "$VENV"/bin/python - "$1" "$2" "$3" <<'EOF'
import sys, time, urllib.request, os
url, log, pid = sys.argv[1], sys.argv[2], int(sys.argv[3])
deadline = time.monotonic() + 120
while time.monotonic() < deadline:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            if response.status == 200:
                sys.exit(0)
    except OSError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        break
    time.sleep(0.3)
sys.stderr.write(f"{url} did not answer; see {log}\n")
sys.exit(1)
EOF
}

if [ -z "${LIVELITE_REDIS_URL:-}" ]; then
  redis_port=$("$VENV"/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  setsid redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no --dir "$RUN" \
    >"$RUN/redis.log" 2>&1 &
  pids+=($!)
  export LIVELITE_REDIS_URL="redis://127.0.0.1:$redis_port/0"
fi

export LIVELITE_INSTANCE_PATH="$INSTANCE"
export LIVELITE_PROXY_FIX=true
export LIVELITE_PUBLISH_SOCKET_PATH=/ingest/socket.io
export LIVELITE_X_ACCEL_REDIRECT_PREFIX=/protected-media/
export LIVELITE_HOST=127.0.0.1
export LIVELITE_PUBLIC_URL=${LIVELITE_PUBLIC_URL:-http://$LISTEN}
GUNICORN=("$VENV"/bin/python -m gunicorn -c deploy/gunicorn.conf.py livelite.wsgi:app)

# The ingest process first: it runs the migrations and creates the instance's keys.
LIVELITE_INGEST=true LIVELITE_PORT=$BASE_PORT setsid "${GUNICORN[@]}" >"$RUN/ingest.log" 2>&1 &
pids+=($!)
wait_for "http://127.0.0.1:$BASE_PORT/healthz" "$RUN/ingest.log" "${pids[-1]}"
web_servers=""
web_pids=()
for (( n=1; n<=WEB; n++ )); do
  port=$((BASE_PORT + n))
  LIVELITE_INGEST=false LIVELITE_PORT=$port setsid "${GUNICORN[@]}" >"$RUN/web-$port.log" 2>&1 &
  pids+=($!)
  web_pids+=("$port:$!")
  web_servers+="server 127.0.0.1:$port; "
done
for entry in "${web_pids[@]}"; do
  wait_for "http://127.0.0.1:${entry%%:*}/healthz" "$RUN/web-${entry%%:*}.log" "${entry#*:}"
done

sed -e "s|@LISTEN@|$LISTEN|" \
    -e "s|@SERVER_NAME@|_|" \
    -e "s|@WEB_SERVERS@|$web_servers|" \
    -e "s|@INGEST_SERVER@|127.0.0.1:$BASE_PORT|" \
    -e "s|@MEDIA_ROOT@|${LIVELITE_MEDIA_ROOT:-$INSTANCE/media}|" \
    -e "s|@STATIC_ROOT@|$ROOT/static|" \
    deploy/nginx/livelite.conf >"$RUN/nginx/livelite.conf"
# A main nginx.conf of its own around the site file, as /etc/nginx/nginx.conf is.
user=""; [ "$(id -u)" -eq 0 ] && user="user root;"  # workers must read the media
mime=""; [ -f /etc/nginx/mime.types ] && mime="include /etc/nginx/mime.types;"
cat >"$RUN/nginx/nginx.conf" <<EOF
$user
worker_processes auto;
pid $RUN/nginx/nginx.pid;
events { worker_connections 4096; }
http {
  $mime
  default_type application/octet-stream;
  access_log $RUN/nginx/access.log;
  client_body_temp_path $RUN/nginx/tmp/client_body;
  proxy_temp_path $RUN/nginx/tmp/proxy;
  fastcgi_temp_path $RUN/nginx/tmp/fastcgi;
  uwsgi_temp_path $RUN/nginx/tmp/uwsgi;
  scgi_temp_path $RUN/nginx/tmp/scgi;
  include $RUN/nginx/livelite.conf;
}
EOF
setsid "$NGINX" -p "$RUN/nginx" -c "$RUN/nginx/nginx.conf" -e "$RUN/nginx/error.log" -g 'daemon off;' &
pids+=($!)
sleep 0.5
kill -0 "${pids[-1]}" 2>/dev/null || { cat "$RUN/nginx/error.log" >&2; exit 1; }

echo " * LiveLite on http://$LISTEN/ : 1 ingest process (127.0.0.1:$BASE_PORT, RTMP :${LIVELITE_RTMP_PORT:-1935}) and $WEB web process(es), Redis at $LIVELITE_REDIS_URL"
echo " * Logs: $RUN/  (Ctrl-C stops everything)"
wait -n "${pids[@]}" || true
echo " * A process stopped; see the logs in $RUN/" >&2
