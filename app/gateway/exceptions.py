"""Every error the Engine gateway raises, in one module.

The gateway never lets a `requests` exception escape: each fault becomes one of
these types, carrying the Engine's own `message` where it sent one. The web
layer maps each type to a page in one place (app/errors.py).
"""

from __future__ import annotations

import re


class EngineError(Exception):
    """The Engine answered with a server error (5xx), or with something that is
    not the API (malformed JSON, an unexpected content type)."""

    status: int | None = None

    def __init__(self, message: str, *, status: int | None = None, method: str = "",
                 path: str = "", explanation: str = ""):
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        self.method = method
        self.path = path
        self.explanation = explanation

    def __str__(self) -> str:  # pragma: no cover - trivial
        return self.message


class EngineUnreachable(EngineError):
    """No connection could be made: the socket is missing, the port refuses,
    the host name does not resolve, TLS failed, permission denied."""

    def __init__(self, message: str, *, host: str = "", os_error: str = "", **kw):
        super().__init__(message, **kw)
        self.host = host
        self.os_error = os_error or message


class EngineTimeout(EngineError):
    """The Engine accepted the connection but did not answer in time."""

    def __init__(self, message: str, *, host: str = "", seconds: float | None = None, **kw):
        super().__init__(message, **kw)
        self.host = host
        self.seconds = seconds


class APIError(EngineError):
    """The Engine answered a 4xx: the request itself was refused."""


class BadRequest(APIError):
    status = 400


class NotFound(APIError):
    status = 404


class Conflict(APIError):
    status = 409


class NoSuchImage(NotFound):
    """The image a container was to be made from is not on the engine."""


class NoSuchPath(NotFound):
    """A path that is not in the container's filesystem (the container is there)."""


class NameInUse(Conflict):
    """The name asked for is held by another container (`holder`, its ID)."""

    def __init__(self, message: str, *, holder: str | None = None, **kw):
        super().__init__(message, **kw)
        self.holder = holder


class InUse(Conflict):
    """The engine will not remove something because something uses it: an
    image a container was made from, a volume a container mounts, a network
    with containers attached (a 409, or a 403 for networks on some versions)."""


class StateConflict(APIError):
    """The container is already in the state asked for, or in one that rules
    the action out (already paused, not running, restarting). The engine says
    so with a 304, a 409, or on some versions a 500: told apart here, from its
    message, so no caller has to read the engine's words."""


class AmbiguousReference(BadRequest):
    """A container reference matches more than one container."""

    def __init__(self, ref: str, candidates: list[dict], **kw):
        super().__init__(f"{ref!r} matches {len(candidates)} containers", **kw)
        self.ref = ref
        self.candidates = candidates


class InvalidReference(BadRequest):
    """A reference that cannot name any container (image, volume, network),
    raised before any Engine call, so odd input never reaches another Engine
    path. `what` says what it was meant to name."""

    def __init__(self, ref: str, reason: str, what: str = "container name or ID"):
        super().__init__(f"not a {what}: {reason}")
        self.ref = ref
        self.what = what


class NotSwarmManager(EngineError):
    """The engine is not a swarm manager: a worker, or not in a swarm at all
    (503 from /services, /tasks, /nodes). `worker`: it is in a swarm."""

    status = 503

    def __init__(self, message: str, **kw):
        super().__init__(message, **kw)
        self.worker = "worker nodes" in message.lower()


class OutOfSequence(Conflict):
    """A service update sent with a version that is no longer the service's
    (someone else updated it in between)."""


_BY_STATUS = {400: BadRequest, 404: NotFound, 409: Conflict}
# Engine answers that mean "it is already so" or "not in this state".
_STATE_RE = re.compile(r"is already paused|is not paused|is not running|already in progress|"
                       r"is restarting|is paused|is already stopped|cannot kill container", re.I)
_IN_USE_RE = re.compile(r"is being used by|is using its referenced image|volume is in use|"
                        r"has active endpoints", re.I)
_HOLDER_RE = re.compile(r'by container "?([0-9a-f]{12,64})"?')


def from_status(status: int, message: str, **kw) -> EngineError:
    """The typed error for an Engine answer with this HTTP status and message."""
    if status == 404 and "no such image" in message.lower():
        return NoSuchImage(message, status=status, **kw)
    if status == 404 and "could not find the file" in message.lower():
        return NoSuchPath(message, status=status, **kw)
    if status == 409 and "already in use" in message.lower():
        m = _HOLDER_RE.search(message)
        return NameInUse(message, holder=m.group(1) if m else None, status=status, **kw)
    low = message.lower()
    if status == 503 and "not a swarm manager" in low:
        return NotSwarmManager(message, status=status, **kw)
    if "update out of sequence" in low:
        return OutOfSequence(message, status=status, **kw)
    if status in (403, 409) and _IN_USE_RE.search(message):
        return InUse(message, status=status, **kw)
    if status != 404 and _STATE_RE.search(message):
        return StateConflict(message, status=status, **kw)
    cls = _BY_STATUS.get(status)
    if cls is not None:
        return cls(message, status=status, **kw)
    if 400 <= status < 500:
        return APIError(message, status=status, **kw)
    return EngineError(message, status=status, **kw)
