"""gunicorn's configuration for Periscope, shipped inside the package, and the
`periscope` command that runs gunicorn with it.

    periscope                              # what the README and the image run
    gunicorn -c python:app.server          # the same, by hand
    gunicorn -c gunicorn.conf.py           # from a checkout (that file imports this)

Read by the gunicorn master once, before anything binds: a setting that
cannot be used stops the start here, in plain words, not in every worker.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import sys
import tempfile

# Workers must share one secret so a session (and its CSRF token) made by one
# worker is valid in another: make it here, in the master, before they fork.
os.environ.setdefault("PERISCOPE_SECRET_KEY", secrets.token_hex(32))
# Likewise one private folder for state the workers share (pull jobs, stats,
# polled answers), in memory where the system offers it (app/config.py fast_tmp).
from .config import fast_tmp  # noqa: E402

_made_state_dir = None
if not os.environ.get("PERISCOPE_STATE_DIR"):
    os.environ["PERISCOPE_STATE_DIR"] = _made_state_dir = tempfile.mkdtemp(prefix="periscope-",
                                                                           dir=fast_tmp())


def _stop(message: str) -> None:
    print(f"periscope: {message}", file=sys.stderr, flush=True)
    if _made_state_dir:
        shutil.rmtree(_made_state_dir, ignore_errors=True)
    sys.exit(2)


from .bind import refusal  # noqa: E402
from .config import Settings  # noqa: E402

try:
    _settings = Settings.from_env()
except ValueError as _exc:
    _stop(str(_exc))

# Terminals hold a gunicorn thread each: never so many that pages would wait.
if _settings.terminal_refusal():
    _stop(_settings.terminal_refusal())

# The engines: a DOCKER_HOST (or an engines list) that cannot be used stops here.
from .gateway import HostConfigError  # noqa: E402

try:
    _settings.engine_specs()
except HostConfigError as _exc:
    _stop(str(_exc))

# Loopback by default; anywhere else only with a password, or on purpose.
_why_not = refusal(_settings)
if _why_not:
    _stop(_why_not)

from .security import PasswordConfigError, load_password  # noqa: E402

try:
    load_password(_settings.password, _settings.password_file)
except PasswordConfigError as _exc:
    _stop(str(_exc))


def on_exit(server):  # gunicorn hook: the master removes the folder it made
    if _made_state_dir:
        shutil.rmtree(_made_state_dir, ignore_errors=True)


RESTARTING = "Periscope is restarting or stopping: start again in a moment."


class _DroppedClient(logging.Filter):
    """gunicorn logs a client dropped for PERISCOPE_SEND_TIMEOUT (it stopped
    reading its answer, or sending its request) as a socket error with a
    traceback: one warning line instead, which says what happened."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, TimeoutError) and str(record.msg).startswith("Socket error"):
            record.msg = ("Dropped a client that took longer than PERISCOPE_SEND_TIMEOUT "
                          "to take its answer or send its request")
            record.args = ()
            record.exc_info = record.exc_text = None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def post_worker_init(worker):  # gunicorn hook: a worker told to stop ends its terminals first
    import signal

    from .terminalrelay import stopping

    worker.log.error_log.addFilter(_DroppedClient())

    graceful = worker.handle_exit

    def handle_exit(sig, frame):
        stopping(RESTARTING)
        graceful(sig, frame)

    signal.signal(signal.SIGTERM, handle_exit)


def worker_exit(server, worker):  # gunicorn hook, in the worker: no shell left behind
    from .terminalrelay import end_all

    end_all(RESTARTING)


bind = _settings.bind
# gunicorn would believe X-Forwarded-Proto from 127.0.0.1 on its own; Periscope
# trusts forwarding headers only when PERISCOPE_TRUSTED_PROXY=1 (see app/security.py).
forwarded_allow_ips = ""
worker_class = "gthread"
workers = _settings.workers
threads = _settings.threads
timeout = 120
graceful_timeout = 10
keepalive = 5
# a request line up to 8 KiB (gunicorn's default is 4094): a file's path of up to
# 4096 bytes with the container's ID and the engine's name, a merged log's
# follow cursor of about 190 containers
limit_request_line = 8190
accesslog = _settings.access_log
errorlog = "-"
wsgi_app = "app:create_app()"
# gunicorn 25.1+ opens a control socket under $HOME by default: one path shared
# by every instance and none for a user without a home. Older ones ignore this.
control_socket_disable = True


def main(argv: list[str] | None = None) -> None:
    """The `periscope` command: gunicorn with this configuration; extra
    arguments go to gunicorn."""
    from gunicorn.app.wsgiapp import run

    sys.argv = ["periscope", "-c", "python:app.server", *(sys.argv[1:] if argv is None else argv)]
    run()
