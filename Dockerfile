# Periscope as a container. Build:   docker build -t periscope .
# Run (see README, "Run it as a container"):
#   docker run -d --name periscope -p 127.0.0.1:8000:8000 \
#     -v /var/run/docker.sock:/var/run/docker.sock \
#     --group-add "$(stat -c %g /var/run/docker.sock)" periscope
#
# The base is an argument so a build can start from a local image when
# python:3.12-slim cannot be pulled (tests/engine/test_deploy.py makes one with
# debootstrap). It must have python3 with the venv module; nothing else.
ARG PYTHON_IMAGE=python:3.12-slim

# --- build: a wheel of Periscope (templates and static files inside), installed in a venv
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1
RUN python3 -m venv /opt/periscope/venv
WORKDIR /src
COPY pyproject.toml README.md ./
COPY app ./app
COPY templates ./templates
COPY static ./static
RUN /opt/periscope/venv/bin/pip wheel --no-deps -w /tmp/wheel . \
 && /opt/periscope/venv/bin/pip install --no-compile /tmp/wheel/periscope-*.whl \
 && /opt/periscope/venv/bin/pip uninstall -y pip \
 && rm -rf /opt/periscope/venv/lib/python3*/site-packages/setuptools* /root/.cache /tmp/wheel \
 && cd / && /opt/periscope/venv/bin/python -c 'import app; r = app._root(); assert r.name == "app" and (r / "templates/base.html").is_file() and (r / "static/vendor/htmx/htmx.min.js").is_file(), r'

# --- run ------------------------------------------------------------------------
FROM ${PYTHON_IMAGE}
ARG VERSION=0.2.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="Periscope" \
      org.opencontainers.image.description="A server-rendered dashboard for a Docker Engine, through its HTTP API" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.source="https://github.com/periscope/periscope"

# A user of its own. It reaches the Engine socket through the socket's group,
# which differs from host to host: give it at run time with
# --group-add <gid of the socket> (compose.yaml: group_add). Without it the
# pages say "Permission denied" for the socket.
RUN (groupadd --system --gid 10001 periscope 2>/dev/null || addgroup -S -g 10001 periscope) \
 && (useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin periscope 2>/dev/null \
     || adduser -S -D -H -u 10001 -G periscope periscope)
COPY --from=build /opt/periscope /opt/periscope

# Inside the container Periscope listens on all of the container's interfaces,
# or a published port (-p 127.0.0.1:8000:8000) could not reach it. That is on
# purpose: who can reach it is decided where the port is published, which
# compose.yaml and the README keep to 127.0.0.1. app/bind.py refuses a
# non-loopback bind without a password unless told it is on purpose:
# PERISCOPE_ALLOW_UNAUTHENTICATED_REMOTE=1 says so. Publishing the port beyond
# 127.0.0.1? Set PERISCOPE_PASSWORD (or PERISCOPE_PASSWORD_FILE) as well.
ENV PATH=/opt/periscope/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DOCKER_HOST=unix:///var/run/docker.sock \
    PERISCOPE_BIND=0.0.0.0:8000 \
    PERISCOPE_ALLOW_UNAUTHENTICATED_REMOTE=1

USER 10001:10001
WORKDIR /opt/periscope
EXPOSE 8000
STOPSIGNAL SIGTERM
# No curl in slim images: app/healthcheck.py (standard library) asks /healthz
# on the address PERISCOPE_BIND names; healthy once the app serves and the
# engine answers.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["python3", "-m", "app.healthcheck"]
# `periscope` runs gunicorn with the configuration shipped in the package
# (app/server.py). gunicorn's control socket (new in 25.1) would go under
# $HOME, which this user has none of: that configuration turns it off.
CMD ["periscope"]
