#!/usr/bin/env bash
# Periscope's whole test suite, from a fresh machine: venv, packages, a Docker
# Engine, a test image, Chromium, then pytest over unit, real-engine and
# browser tests. Arguments go to pytest (e.g. scripts/test.sh tests/unit -x).
#
# The engine: DOCKER_HOST if it answers, else /var/run/docker.sock if it
# answers, else (as root on Debian) a private dockerd started here and stopped
# when the run ends, pass or fail. In CI (CI=true) no engine means failure.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
STATE=${PERISCOPE_TEST_STATE:-/tmp/periscope-test-engine}
export PERISCOPE_TEST_IMAGE=${PERISCOPE_TEST_IMAGE:-periscope-test:busybox}
CI=${CI:-}
log() { printf '\033[1m[test.sh]\033[0m %s\n' "$*" >&2; }
die() { log "FAIL: $*"; exit 1; }

is_root() { [ "$(id -u)" = 0 ]; }
is_debian() { [ -f /etc/debian_version ] && command -v apt-get >/dev/null; }
APT_UPDATED=
apt_install() {
  is_root && is_debian || return 1
  if [ -z "$APT_UPDATED" ]; then apt-get update -qq >&2 || true; APT_UPDATED=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >&2
}

# --- 1. Python environment ---------------------------------------------------
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  log "creating .venv"
  "$PY" -m venv .venv || { apt_install python3-venv && "$PY" -m venv .venv; }
fi
stamp=.venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)
if [ ! -f "$stamp" ]; then
  log "installing Periscope and its test tools into .venv"
  .venv/bin/pip install -q --upgrade pip >&2 || true
  .venv/bin/pip install -q -e '.[test]' >&2
  touch "$stamp"
fi

# --- 2. system tools ------------------------------------------------------------
need=()
command -v curl >/dev/null || need+=(curl)
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v openssl >/dev/null || need+=(openssl)
# the pull tests run Debian's registry on 127.0.0.1; the deploy test builds a base with debootstrap
[ -x /usr/bin/docker-registry ] || need+=(docker-registry)
command -v debootstrap >/dev/null || need+=(debootstrap)
# the ssh:// engine tests run Debian's sshd on 127.0.0.1
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
command -v ssh >/dev/null || need+=(openssh-client)
# the projects and merged-logs tests bring real projects up with Debian's
# docker-compose; the scanner test runs wapiti against a live Periscope
command -v docker-compose >/dev/null || need+=(docker-compose)
command -v wapiti >/dev/null || need+=(wapiti)
if ((${#need[@]})); then
  log "installing ${need[*]}"
  apt_install "${need[@]}" || log "could not install ${need[*]} (not root on Debian?)"
fi
[ -x /usr/bin/chromium ] && export PERISCOPE_CHROMIUM=/usr/bin/chromium

# --- 3. an engine ------------------------------------------------------------------
ping_host() {  # ping_host DOCKER_HOST -> 0 when it answers
  local h=$1
  case "$h" in
    unix://*) curl -fsS --max-time 3 --unix-socket "${h#unix://}" http://localhost/_ping >/dev/null 2>&1 ;;
    tcp://*) [ -z "${DOCKER_TLS_VERIFY:-}" ] && curl -fsS --max-time 3 "http://${h#tcp://}/_ping" >/dev/null 2>&1 ;;
    *) return 1 ;;
  esac
}

PRIVATE=
stop_private() {
  [ -f "$STATE/docker.pid" ] || return 0
  local pid; pid=$(cat "$STATE/docker.pid" 2>/dev/null || true)
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && grep -q dockerd "/proc/$pid/comm" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  # whatever a killed run left: its containerd, shims, mounts, socket, pidfile
  pkill -9 -f "$STATE/exec" 2>/dev/null || true
  if [ -r /proc/mounts ]; then
    awk -v s="$STATE/" 'index($2, s) == 1 {print $2}' /proc/mounts | sort -r | while read -r m; do
      umount -l "$m" 2>/dev/null || true
    done
  fi
  rm -f "$STATE/docker.pid" "$STATE/docker.sock"
}

start_private() {
  is_root && is_debian || return 1
  command -v dockerd >/dev/null || { log "installing docker.io (dockerd)"; apt_install docker.io >&2 || return 1; }
  stop_private
  rm -rf "$STATE/data" "$STATE/exec"
  mkdir -p "$STATE"
  log "starting a private dockerd on $STATE/docker.sock"
  dockerd --host "unix://$STATE/docker.sock" --data-root "$STATE/data" --exec-root "$STATE/exec" \
    --pidfile "$STATE/docker.pid" --bridge=none --iptables=false --ip-masq=false \
    >"$STATE/dockerd.log" 2>&1 &
  PRIVATE=1
  for _ in $(seq 1 150); do
    ping_host "unix://$STATE/docker.sock" && return 0
    sleep 0.2
  done
  log "dockerd did not answer; its log:"; tail -n 30 "$STATE/dockerd.log" >&2 || true
  return 1
}

cleanup() {
  local rc=$?
  if [ -n "$PRIVATE" ]; then log "stopping the private dockerd"; stop_private; fi
  exit $rc
}
trap cleanup EXIT INT TERM

ENGINE=
if [ -n "${DOCKER_HOST:-}" ]; then
  if ping_host "$DOCKER_HOST" || [ -n "${DOCKER_TLS_VERIFY:-}" ]; then ENGINE=$DOCKER_HOST
  else log "DOCKER_HOST=$DOCKER_HOST does not answer"; fi
fi
if [ -z "$ENGINE" ] && ping_host unix:///var/run/docker.sock; then
  ENGINE=unix:///var/run/docker.sock
fi
if [ -z "$ENGINE" ] && start_private; then ENGINE="unix://$STATE/docker.sock"; fi
if [ -n "$ENGINE" ]; then
  export DOCKER_HOST=$ENGINE
  log "engine: $DOCKER_HOST"
  command -v docker >/dev/null || apt_install docker.io >&2 || true
  # --- 4. the test image, made with docker import (never pulled) ---
  if ! docker image inspect "$PERISCOPE_TEST_IMAGE" >/dev/null 2>&1; then
    is_static() {  # ldd exits 1 on a static binary: read its words, not its status
      [ -x "$1" ] || return 1
      local out; out=$(LC_ALL=C ldd "$1" 2>&1 || true)
      [[ $out == *"not a dynamic"* || $out == *"statically linked"* ]]
    }
    bb=$(command -v busybox || echo /bin/busybox)
    is_static "$bb" || { apt_install busybox-static || true; bb=$(command -v busybox || echo /bin/busybox); }
    if is_static "$bb"; then
      d=$(mktemp -d)
      mkdir -p "$d/bin" "$d/etc" "$d/tmp"
      cp "$bb" "$d/bin/busybox"
      for a in $("$d/bin/busybox" --list); do [ "$a" = busybox ] || ln -sf busybox "$d/bin/$a"; done
      printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n' >"$d/etc/passwd"
      printf 'root:x:0:\nnogroup:x:65534:\n' >"$d/etc/group"
      log "importing $PERISCOPE_TEST_IMAGE from $bb"
      tar -C "$d" -c . | docker import -c 'CMD ["/bin/sh"]' -c 'LABEL periscope.test=1' - "$PERISCOPE_TEST_IMAGE" >/dev/null
      rm -rf "$d"
    else
      log "no static busybox: cannot make the test image"
    fi
  fi
else
  unset DOCKER_HOST
  export PERISCOPE_NO_ENGINE=1
  [ -n "$CI" ] && die "no Docker Engine answers, and CI=true: engine tests may not be skipped"
  log "no engine answers: engine and browser tests will be skipped"
fi

# --- 5. pytest -------------------------------------------------------------------
mkdir -p artifacts
set +e
.venv/bin/python -m pytest "$@"
rc=$?
set -e
exit $rc
