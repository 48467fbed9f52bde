"""gunicorn settings for Periscope. `gunicorn -c gunicorn.conf.py 'app:create_app()'`."""

import os
import secrets

# Workers must share one secret so a session (and its CSRF token) made by one
# worker is valid in another: make it here, in the master, before they fork.
os.environ.setdefault("PERISCOPE_SECRET_KEY", secrets.token_hex(32))

bind = os.environ.get("PERISCOPE_BIND", "127.0.0.1:8000")
worker_class = "gthread"
workers = int(os.environ.get("PERISCOPE_WORKERS", "2"))
threads = int(os.environ.get("PERISCOPE_THREADS", "8"))
timeout = 120
graceful_timeout = 10
keepalive = 5
accesslog = os.environ.get("PERISCOPE_ACCESS_LOG", None)
errorlog = "-"
wsgi_app = "app:create_app()"
