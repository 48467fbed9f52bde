"""gunicorn settings for Periscope from a checkout: `gunicorn -c gunicorn.conf.py`.
The configuration itself ships in the package (app/server.py), so an
installed Periscope runs the same with the `periscope` command."""

from app.server import *  # noqa: F401,F403
