#!/usr/bin/env bash
# Run Periscope locally: make .venv if needed, install, then gunicorn on
# 127.0.0.1:8000 (PERISCOPE_BIND to change). Talks to DOCKER_HOST, else
# /var/run/docker.sock. Extra arguments go to gunicorn.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
stamp=.venv/.run-installed-$(sha256sum pyproject.toml | cut -c1-16)
if [ ! -f "$stamp" ]; then
  .venv/bin/pip install -q -e . >&2
  touch "$stamp"
fi
echo "Periscope on http://${PERISCOPE_BIND:-127.0.0.1:8000} (engine: ${DOCKER_HOST:-unix:///var/run/docker.sock})" >&2
# the `periscope` command: gunicorn with the configuration in app/server.py
exec .venv/bin/periscope "$@"
