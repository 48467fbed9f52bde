"""gunicorn settings for Periscope. `gunicorn -c gunicorn.conf.py 'app:create_app()'`."""

import os
import secrets
import sys

from app.bind import bind_addresses, refusal

# Workers must share one secret so a session (and its CSRF token) made by one
# worker is valid in another: make it here, in the master, before they fork.
os.environ.setdefault("PERISCOPE_SECRET_KEY", secrets.token_hex(32))
# Likewise one private folder for state the workers share (pull jobs).
if not os.environ.get("PERISCOPE_STATE_DIR"):
    import tempfile

    os.environ["PERISCOPE_STATE_DIR"] = _made_state_dir = tempfile.mkdtemp(prefix="periscope-")

    def on_exit(server):  # gunicorn hook: the master removes the folder it made
        import shutil

        shutil.rmtree(_made_state_dir, ignore_errors=True)

# A DOCKER_HOST that cannot be used stops the start here, in plain words.
from app.gateway import HostConfigError, parse_host  # noqa: E402

try:
    parse_host(os.environ.get("DOCKER_HOST"))
except HostConfigError as _exc:
    print(f"periscope: {_exc}", file=sys.stderr, flush=True)
    sys.exit(2)

# Loopback by default; anywhere else only with a password, or on purpose.
_why_not = refusal(os.environ)
if _why_not:
    print(f"periscope: {_why_not}", file=sys.stderr, flush=True)
    sys.exit(2)
# A password file that cannot be used stops the start here, with its reason,
# rather than in every worker.
from app.security import PasswordConfigError, load_password  # noqa: E402

try:
    load_password(os.environ.get("PERISCOPE_PASSWORD") or None,
                  os.environ.get("PERISCOPE_PASSWORD_FILE") or None)
except PasswordConfigError as _exc:
    print(f"periscope: {_exc}", file=sys.stderr, flush=True)
    sys.exit(2)
bind = bind_addresses(os.environ.get("PERISCOPE_BIND"))
# gunicorn would believe X-Forwarded-Proto from 127.0.0.1 on its own; Periscope
# trusts forwarding headers only when PERISCOPE_TRUSTED_PROXY=1 (see app/security.py).
forwarded_allow_ips = ""
worker_class = "gthread"
workers = int(os.environ.get("PERISCOPE_WORKERS", "2"))
threads = int(os.environ.get("PERISCOPE_THREADS", "8"))
timeout = 120
graceful_timeout = 10
keepalive = 5
accesslog = os.environ.get("PERISCOPE_ACCESS_LOG", None)
errorlog = "-"
wsgi_app = "app:create_app()"
# gunicorn 27 opens a control socket under $HOME by default: one path shared by
# every instance (tests run several) and none for a user without a home.
control_socket_disable = True
