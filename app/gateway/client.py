"""The Engine API gateway: one pooled session per process, a negotiated API
version, versioned paths, typed errors. It knows nothing of Flask and renders
nothing; views call its methods and never build Engine URLs themselves.
"""

from __future__ import annotations

import contextvars
import hashlib
import json
import re
import select
import socket
import ssl
import struct
import threading
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import quote, urlencode

import requests
from requests.structures import CaseInsensitiveDict
from requests.utils import requote_uri

from . import calls, hijack
from .archive import STAT_HEADER, Archive, PathStat
from .exceptions import (AmbiguousReference, BadRequest, EngineError, EngineTimeout,
                         EngineUnreachable, InvalidReference, NotFound, NoSuchPath, from_status)
from .hijack import ExecStream
from .hosts import Host, parse_host
from .frames import Dechunker, FrameParser
from .logstream import LogStream, frame_entries, ns_to_engine
from .sharing import SharedReads
from .transports import SSHAdapter, UnixAdapter
from .watch import EventWatch

try:  # orjson decodes a 600-container list about 4x faster than the stdlib
    from orjson import loads as _loads
except ImportError:  # pragma: no cover - it is a dependency; stay usable without it
    _loads = json.loads

# The highest API version this gateway was written and tested against. The
# engine's own version (GET /_ping, Api-Version) is used when lower.
MAX_API_VERSION = "1.52"
# Below this the endpoints we use differ too much (and no supported engine
# speaks less): an engine that offers less is refused with a clear message.
MIN_API_VERSION = "1.24"

# Calls that go out beside another (an inspect beside a logs call).
_POOL = ThreadPoolExecutor(max_workers=16, thread_name_prefix="periscope-engine")

_REF_RE = re.compile(r"^/?[a-zA-Z0-9][a-zA-Z0-9_.-]{0,254}$")


def version_tuple(v: str) -> tuple[int, int]:
    major, _, minor = v.partition(".")
    return int(major), int(minor or 0)


def check_ref(ref: str) -> str:
    """A container reference (name, ID or ID prefix) safe to put in a path.

    Names follow the engine's rule `/?[a-zA-Z0-9][a-zA-Z0-9_.-]+`; IDs and
    prefixes are hex, which that rule admits. Anything else (slashes, dots
    alone, NUL, percent signs, 10,000 characters) is refused before any call.
    """
    if not isinstance(ref, str) or not ref:
        raise InvalidReference(str(ref), "empty")
    if len(ref) > 255:
        raise InvalidReference(ref[:64] + "...", f"{len(ref)} characters is too long")
    if not _REF_RE.fullmatch(ref):  # not match: `$` also matches before a final newline
        raise InvalidReference(ref, "only letters, digits, '_', '.' and '-' may appear, "
                                    "starting with a letter or digit")
    return ref.lstrip("/")


# Image references: a name (registry host, path, tag) or an ID or digest. The
# engine's router takes the name with its slashes in the path; each segment
# must start with a letter or digit, so nothing like "." or ".." gets through.
_IMAGE_REF_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:@+-]*(?:/[A-Za-z0-9][A-Za-z0-9_.:@+-]*)*$")
# Volume names follow the engine's rule; network names may hold anything the
# engine accepts but a slash (a network with one is reached by its ID).
_VOLUME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$")


def check_image_ref(ref: str) -> str:
    """An image reference (name[:tag], name@digest, ID or ID prefix) safe to
    put in a path; anything else is refused before any call."""
    if not isinstance(ref, str) or not ref:
        raise InvalidReference(str(ref), "empty", "image reference")
    if len(ref) > 512:
        raise InvalidReference(ref[:64] + "...", f"{len(ref)} characters is too long",
                               "image reference")
    if not _IMAGE_REF_RE.fullmatch(ref):
        raise InvalidReference(ref, "letters, digits and '_.:@+-', in segments separated by "
                                    "'/', each starting with a letter or digit",
                               "image reference")
    return ref


def check_volume(name: str) -> str:
    if not isinstance(name, str) or not name:
        raise InvalidReference(str(name), "empty", "volume name")
    if not _VOLUME_RE.fullmatch(name):
        raise InvalidReference(name[:64], "only letters, digits, '_', '.' and '-' may appear, "
                                          "starting with a letter or digit", "volume name")
    return name


def check_network(ref: str) -> str:
    if not isinstance(ref, str) or not ref.strip():
        raise InvalidReference(str(ref), "empty", "network name or ID")
    if (len(ref) > 255 or "/" in ref or ref.startswith(".")
            or any(ord(ch) < 32 or ord(ch) == 127 for ch in ref)):
        # ".." would be cleaned away by the engine's router into another path
        raise InvalidReference(ref[:64], "no slashes, control characters or a leading dot (a "
                                         "network whose name holds one is reached by its ID)",
                               "network name or ID")
    return ref


def _os_error_text(exc: BaseException) -> str:
    """The plainest OS-level reason found in an exception chain."""
    seen: set[int] = set()
    stack: list[BaseException] = [exc]
    best: str | None = None
    while stack:
        e = stack.pop()
        if id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, OSError) and e.strerror:
            best = e.strerror
            if e.errno is not None:
                best = f"{e.strerror} (errno {e.errno})"
        for nxt in (e.__cause__, e.__context__, getattr(e, "reason", None), *getattr(e, "args", ())):
            if isinstance(nxt, BaseException):
                stack.append(nxt)
    if best:
        return best
    text = str(exc)
    # urllib3 wraps the reason in noise; keep the tail that says what happened
    m = re.search(r"(Failed to resolve[^)]*|Name or service not known|"
                  r"certificate verify failed[^)]*|Connection refused|"
                  r"No such file or directory|Permission denied|[A-Z_]*SSL[^)]*)", text)
    return m.group(1) if m else text[:300]


def _tls_reason(exc: BaseException, host: Host) -> str:
    """Plain words for a failed TLS handshake with the engine."""
    import ssl

    seen: set[int] = set()
    stack: list[BaseException] = [exc]
    found: ssl.SSLError | None = None
    while stack and found is None:
        e = stack.pop()
        if id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, ssl.SSLError):
            found = e
            break
        for nxt in (e.__cause__, e.__context__, getattr(e, "reason", None), *getattr(e, "args", ())):
            if isinstance(nxt, BaseException):
                stack.append(nxt)
    text = str((found.args[1] if found is not None and len(found.args) > 1 else found) or exc)
    text = re.sub(r"^\[[A-Z0-9_: ]+\]\s*", "", text)
    text = re.sub(r"\s*\(_ssl\.c:\d+\)", "", text).strip().rstrip(".")
    low = text.lower()
    ca = host.ca_cert or "the system's CA list"
    cert = host.client_cert[0] if host.client_cert else "no client certificate"
    if "mismatch" in low or "not valid for" in low:
        hint = f"the engine's certificate is not made out to {host.netloc.rsplit(':', 1)[0]}"
    elif "verify failed" in low:
        hint = f"the engine's certificate is not signed by the CA in {ca}"
    elif isinstance(found, ssl.SSLEOFError) or "alert" in low or "eof" in low:
        if isinstance(found, ssl.SSLEOFError) or "eof" in low:
            text = "the engine closed the connection during the handshake"
        hint = f"it refused the client certificate {cert}"
    else:
        hint = "check DOCKER_CERT_PATH (ca.pem, cert.pem, key.pem)"
    return f"TLS handshake failed: {text} ({hint})"


def _unframed(resp: requests.Response, method: str) -> bool:
    """An HTTP/1.1 answer with a body that says neither its length nor its
    chunks: its end is only the connection's close. The engine never answers
    so (its answers are chunked or have a length; a hijacked stream is a 101),
    but an answer cut off inside its headers reads so, as an empty body: a
    log or a list would then show nothing, as if there were nothing."""
    hr = getattr(resp.raw, "_fp", None)
    return (hr is not None and getattr(hr, "version", 10) == 11 and method != "HEAD"
            and resp.status_code not in (101, 204, 304) and not 100 <= resp.status_code < 200
            and not getattr(hr, "chunked", True) and getattr(hr, "length", 0) is None)


class Engine:
    """A client for one Docker Engine."""

    def __init__(self, host: Host | str | None = None, *, connect_timeout: float = 3.0,
                 read_timeout: float = 30.0, max_api: str = MAX_API_VERSION, pool_size: int = 32,
                 name: str = "default", share_for: float = 0.0,
                 write_marker: Path | None = None, quiet_for: float = 0.0):
        self.host = host if isinstance(host, Host) else parse_host(host)
        self.name = name
        # Identical reads close together share one call (sharing.py); a write
        # through this engine drops the shared answers, in every worker.
        self.shared = SharedReads(share_for, write_marker,
                                  folder=write_marker.parent.parent / "shared" / name
                                  if write_marker is not None else None, ahead=self.AHEAD)
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.max_api = max_api
        # while the engine reports no event, its container list holds for up
        # to `quiet_for` seconds, past the freshness bound (watch.py)
        self.watch = (EventWatch(self._open_events, hold=quiet_for)
                      if quiet_for > 0 and share_for > 0 else None)
        self._session = requests.Session()
        # No proxy, netrc or CA variables from the environment: an engine is
        # reached as its URL says (the CA is passed per request); and reading
        # the whole environment on every call cost more than the call's setup.
        self._session.trust_env = False
        self._ssh: SSHAdapter | None = None
        if self.host.scheme == "unix":
            self._session.mount("http+unix://", UnixAdapter(pool_size))
        elif self.host.scheme == "ssh":
            self._ssh = SSHAdapter(self.host.ssh_argv(connect_timeout), pool_size=8)
            self._session.mount("http+ssh://", self._ssh)
        else:
            self._session.mount(self.host.scheme + "://", requests.adapters.HTTPAdapter(
                pool_connections=4, pool_maxsize=pool_size))
        if self.host.scheme == "https":
            self._session.verify = self.host.ca_cert or True
            if self.host.client_cert:
                self._session.cert = self.host.client_cert
        self._session.headers["User-Agent"] = "Periscope"
        self._adapter: requests.adapters.BaseAdapter | None = None  # the mounted one (_request)
        self._api: str | None = None
        self._engine_api: str | None = None
        self._lock = threading.Lock()
        # the last answer of a few kept reads, with its bytes (see _shared_json)
        self._kept: OrderedDict[tuple, tuple[bytes, tuple[Any, str]]] = OrderedDict()
        self._ticking: dict[str, bool] = {}  # _list_lasts: the last list's seconds texts
        self._follow_tails: dict[tuple, int] = {}  # logs_window: the tail each asks for next

    KEPT = 4  # per engine: a few filters at once (each may be megabytes)
    # an events stream that sent nothing for this many `hold`s is asked anew
    # (a path that died without a word, past what keepalive would find)
    EVENTS_QUIET_MAX = 10
    # a shared answer older than this part of its bound is renewed ahead of
    # time, beside the reads it still serves (sharing.py): many viewers then
    # never wait on the engine (50 viewers of 600 containers: docs/benchmarks.md)
    AHEAD = 0.85

    # -- version negotiation -------------------------------------------------
    @property
    def api_version(self) -> str:
        """The API version in use, negotiated on first need."""
        api = self._api
        if api is None:
            api = self.negotiate()
        return api

    @property
    def negotiated_version(self) -> str | None:
        """The API version in use if already negotiated, without a call."""
        return self._api

    @property
    def engine_api_version(self) -> str | None:
        """The highest version the engine offered at the last negotiation."""
        return self._engine_api

    def negotiate(self, timeout: float | tuple | None = None) -> str:
        """GET /_ping and take the engine's Api-Version, capped at ours."""
        resp = self._send("GET", "/_ping", versioned=False, timeout=timeout)
        offered = resp.headers.get("Api-Version")
        with self._lock:
            if not offered:
                # Very old engines do not send it; the lowest we know is safest.
                api = MIN_API_VERSION
            elif version_tuple(offered) > version_tuple(self.max_api):
                api = self.max_api
            else:
                api = offered
            if version_tuple(api) < version_tuple(MIN_API_VERSION):
                raise EngineError(f"the engine speaks API {offered}; Periscope needs at least "
                                  f"{MIN_API_VERSION}")
            self._engine_api = offered
            self._api = api
        return api

    def forget_version(self) -> None:
        """Negotiate again on the next call (the engine may have been replaced)."""
        with self._lock:
            self._api = None

    # -- the one place requests are made ------------------------------------
    def _send(self, method: str, path: str, *, params: dict | None = None, body: Any = None,
              stream: bool = False, timeout: float | tuple | None = None, versioned: bool = True,
              headers: dict | None = None, ok: tuple[int, ...] = (),
              shown_body: str | None = None) -> requests.Response:
        """Send one request; return the response on 2xx (or a status in `ok`),
        raise a typed error otherwise. Records the call (with `shown_body` in
        place of the body, when the body holds what the panel must not show)."""
        query = ""
        if params:
            clean = {k: v for k, v in params.items() if v is not None}
            if clean:
                query = "?" + urlencode(clean)
        if versioned:
            api = self._api or self.negotiate(timeout=timeout)
            full_path = f"/v{api}{path}{query}"
        else:
            full_path = path + query
        data = None
        body_text = recorded = None
        hdrs = dict(headers or {})
        if body is not None:
            body_text = body if isinstance(body, str) else json.dumps(body)
            data = body_text.encode("utf-8")
            hdrs.setdefault("Content-Type", "application/json")
        recorded = shown_body if shown_body is not None else body_text
        if timeout is None:
            timeout = (self.connect_timeout, self.read_timeout)
        elif not isinstance(timeout, tuple):
            timeout = (self.connect_timeout, timeout)
        if method not in ("GET", "HEAD"):
            self.shared.invalidate()  # before and after: a read racing the write is not kept
        t0 = time.perf_counter()
        try:
            # verify is passed per request: a session-level CA would lose to
            # REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE from the environment.
            resp = self._request(method, full_path, data, hdrs, stream, timeout)
        except requests.exceptions.ReadTimeout as exc:
            self._record(method, full_path, None, t0, recorded, "timed out")
            raise EngineTimeout(
                f"the engine at {self.host.raw} accepted the connection but did not answer "
                f"within {timeout[1]:g} s", host=self.host.raw, seconds=timeout[1],
                method=method, path=full_path) from exc
        except requests.exceptions.ConnectTimeout as exc:
            self._record(method, full_path, None, t0, recorded, "connect timed out")
            self.forget_version()
            self.shared.invalidate()
            raise EngineUnreachable(
                f"cannot connect to the engine at {self.host.raw}: no answer within "
                f"{timeout[0]:g} s", host=self.host.raw, os_error="connection timed out",
                method=method, path=full_path) from exc
        except (requests.exceptions.ConnectionError, OSError) as exc:
            if isinstance(exc, requests.exceptions.SSLError):
                reason = _tls_reason(exc, self.host)
            elif self._ssh is not None:
                reason = self._ssh_reason(exc)
            else:
                reason = _os_error_text(exc)
            self._record(method, full_path, None, t0, recorded, reason)
            self.forget_version()
            self.shared.invalidate()  # it went away: no answer from before is given again
            raise EngineUnreachable(f"cannot connect to the engine at {self.host.raw}: {reason}",
                                    host=self.host.raw, os_error=reason, method=method,
                                    path=full_path) from exc
        except requests.exceptions.RequestException as exc:
            self._record(method, full_path, None, t0, recorded, str(exc))
            raise EngineError(f"request to the engine failed: {exc}", method=method,
                              path=full_path) from exc
        self._record(method, full_path, resp.status_code, t0, recorded)
        if method not in ("GET", "HEAD"):
            self.shared.invalidate()
        if _unframed(resp, method):
            resp.close()
            raise EngineError(f"the engine sent a broken response to {method} {path}: an "
                              "HTTP/1.1 answer with neither a length nor chunks (its headers "
                              "were cut off?)", status=resp.status_code, method=method,
                              path=full_path)
        if 200 <= resp.status_code < 300 or resp.status_code in ok:
            return resp
        raise self._error_from(resp, method, full_path)

    def _request(self, method: str, full_path: str, data: bytes | None, headers: dict,
                 stream: bool, timeout: tuple) -> requests.Response:
        """One request through the session's adapter, the way Session.request
        would send it here (the same headers, the URL quoted the same way), less
        what an engine never needs: cookies, auth, redirects, hooks, the
        environment. That machinery cost about a third of a ping's time."""
        req = requests.PreparedRequest()
        req.method = method
        req.url = self.host.base_url + requote_uri(full_path)
        h = CaseInsensitiveDict(self._session.headers)
        h.update(headers)
        if data is not None:
            h["Content-Length"] = str(len(data))
        elif method not in ("GET", "HEAD"):
            h["Content-Length"] = "0"
        req.headers = h
        req.body = data
        req.hooks = {"response": []}
        adapter = self._adapter
        if adapter is None:
            adapter = self._adapter = self._session.get_adapter(self.host.base_url + "/")
        resp = adapter.send(req, stream=stream, timeout=timeout, verify=self._session.verify,
                            cert=self._session.cert, proxies={})
        if not stream:
            resp.content  # noqa: B018 - read it now, as Session.send does
        return resp

    def _ssh_reason(self, exc: BaseException) -> str:
        """What ssh said (it knows why: host key, refused key, no docker there)."""
        said = self._ssh.log.take()
        if said:
            low = said.lower()
            if "host key verification failed" in low or "host identification has changed" in low:
                hint = "the far host's key is not the one in known_hosts"
            elif "permission denied" in low:
                hint = "the far host refused the key (or user) ssh offered"
            elif "not found" in low or "no such file" in low:
                hint = "is the docker CLI installed on the far host?"
            elif "could not resolve" in low or "connection refused" in low or "timed out" in low:
                hint = "the far host cannot be reached"
            else:
                hint = ""
            return f"ssh: {said}" + (f" ({hint})" if hint else "")
        return f"ssh: {_os_error_text(exc)}"

    def _record(self, method, path, status, t0, body_text, error=None):
        calls.add(calls.Call(method=method, path=path, status=status, engine=self.name,
                             ms=(time.perf_counter() - t0) * 1000.0, body=body_text, error=error))

    @staticmethod
    def _error_from(resp: requests.Response, method: str, path: str) -> EngineError:
        try:
            text = resp.text
        except Exception:  # noqa: BLE001 - a broken body still deserves an error
            text = ""
        message = text.strip()
        try:
            payload = json.loads(text)
            if isinstance(payload, dict) and isinstance(payload.get("message"), str):
                message = payload["message"]
        except ValueError:
            pass
        if not message:
            message = f"HTTP {resp.status_code} {resp.reason or ''}".strip()
        return from_status(resp.status_code, message, method=method, path=path)

    def _json(self, method: str, path: str, **kw) -> Any:
        return self._json_tagged(method, path, **kw)[0]

    def _json_tagged(self, method: str, path: str, **kw) -> tuple[Any, str]:
        """(the decoded answer, a tag of its bytes: equal tags, equal answers)."""
        resp = self._send(method, path, **kw)
        if resp.status_code == 204 or not resp.content:
            return None, ""
        body = resp.content
        try:
            value = _loads(body)
        except ValueError:
            snippet = resp.text[:500]
            raise EngineError(f"the engine sent something that is not JSON: {snippet!r}",
                              status=resp.status_code, method=method, path=path) from None
        return value, hashlib.blake2b(body, digest_size=8).hexdigest()

    def _shared_json(self, key: tuple, path: str, params: dict | None = None,
                     timeout: float | None = None, across: bool = False,
                     keep: bool = False, lasting=None) -> tuple[Any, str]:
        """A GET shared with identical ones made close together (sharing.py):
        (the answer, its tag). `across`: shared between the workers too. A
        shared answer is recorded in the calls panel with its age. `keep`: an
        answer byte for byte the one before is not decoded again, and is the
        same object as before (a live list polls the same answer for minutes;
        600 containers take 5 ms to decode)."""
        t0 = time.perf_counter()

        def body() -> bytes:
            resp = self._send("GET", path, params=params, timeout=timeout)
            return resp.content

        def decode(data: bytes) -> tuple[Any, str]:
            if not data:
                return None, ""
            kept = self._kept.get(key) if keep else None
            if kept is not None and kept[0] == data:
                return kept[1]
            try:
                value = _loads(data), hashlib.blake2b(data, digest_size=8).hexdigest()
            except ValueError:
                raise EngineError(f"the engine sent something that is not JSON: {data[:500]!r}",
                                  method="GET", path=path) from None
            if keep:
                with self._lock:
                    self._kept[key] = (data, value)
                    self._kept.move_to_end(key)
                    while len(self._kept) > self.KEPT:
                        self._kept.popitem(last=False)
            return value

        (value, tag), age = self.shared.get(key, lambda: decode(body()),
                                            raw=(body, decode) if across else None,
                                            lasting=lasting)
        if age is not None:
            query = ("?" + urlencode({k: v for k, v in params.items() if v is not None})
                     if params else "")
            calls.add(calls.Call(method="GET", path=f"/v{self._api or '?'}{path}{query}",
                                 status=200, engine=self.name, shared_age=age,
                                 ms=(time.perf_counter() - t0) * 1000.0))
        return value, tag

    # -- system --------------------------------------------------------------
    def ping(self, timeout: float | None = None) -> str:
        """Check the engine answers; returns the API version in use."""
        self._send("GET", "/_ping", versioned=False, timeout=timeout)
        return self.api_version

    def version(self, timeout: float | None = None) -> dict:
        return self._json("GET", "/version", timeout=timeout)

    def info(self, timeout: float | None = None) -> dict:
        return self._json("GET", "/info", timeout=timeout)

    def disk_usage(self, timeout: float | None = None) -> dict:
        """GET /system/df: images, containers' writable layers, volumes and
        build cache with their sizes. The engine walks every file of every
        volume to answer, so it may take long: its own, longer timeout."""
        return self._json("GET", "/system/df",
                          timeout=timeout or max(self.read_timeout, 300.0)) or {}

    # -- images ----------------------------------------------------------------
    def images(self, *, all: bool = False, filters: dict[str, list[str]] | None = None,
               shared_size: bool = False, timeout: float | None = None) -> list[dict]:
        """GET /images/json. `shared_size` asks the engine to count each image's
        layers shared with others (API 1.42 and up; ignored below)."""
        params: dict[str, Any] = {}
        if all:
            params["all"] = "1"
        if filters:
            params["filters"] = json.dumps(filters, separators=(",", ":"))
        if shared_size and version_tuple(self.api_version) >= (1, 42):
            params["shared-size"] = "1"
        return self._json("GET", "/images/json", params=params, timeout=timeout) or []

    def supports_shared_size(self) -> bool:
        return version_tuple(self.api_version) >= (1, 42)

    @staticmethod
    def image_path(ref: str) -> str:
        return "/images/" + quote(check_image_ref(ref), safe="/:@")

    def inspect_image(self, ref: str) -> dict:
        return self._json("GET", self.image_path(ref) + "/json")

    def image_history(self, ref: str) -> list[dict]:
        """GET /images/{name}/history: each layer's command and size, newest first."""
        return self._json("GET", self.image_path(ref) + "/history") or []

    def remove_image(self, ref: str, *, force: bool = False, noprune: bool = False) -> list[dict]:
        """DELETE /images/{name}: what the engine untagged and deleted."""
        return self._json("DELETE", self.image_path(ref),
                          params={"force": int(force), "noprune": int(noprune)}) or []

    def _prune(self, what: str, filters: dict[str, list[str]] | None,
               params: dict | None = None) -> dict:
        params = dict(params or {})
        if filters:
            params["filters"] = json.dumps(filters, separators=(",", ":"))
        # a prune walks what it removes (a volume's files): a longer timeout
        return self._json("POST", f"/{what}/prune", params=params,
                          timeout=max(self.read_timeout, 300.0)) or {}

    def prune_images(self, filters: dict[str, list[str]] | None = None) -> dict:
        """POST /images/prune ({"dangling": ["true"]} for dangling ones only):
        {"ImagesDeleted": [...], "SpaceReclaimed": n}."""
        return self._prune("images", filters)

    def prune_containers(self, filters: dict[str, list[str]] | None = None) -> dict:
        """POST /containers/prune: every stopped container."""
        return self._prune("containers", filters)

    def prune_build_cache(self, *, all: bool = True,
                          filters: dict[str, list[str]] | None = None) -> dict:
        """POST /build/prune (all: every unused record, not only dangling ones)."""
        return self._prune("build", filters, {"all": "1" if all else None})

    # -- volumes ---------------------------------------------------------------
    def volumes(self, *, filters: dict[str, list[str]] | None = None,
                timeout: float | None = None) -> list[dict]:
        """GET /volumes: the volumes (the engine's warnings dropped)."""
        params = {"filters": json.dumps(filters, separators=(",", ":"))} if filters else None
        return (self._json("GET", "/volumes", params=params, timeout=timeout)
                or {}).get("Volumes") or []

    def inspect_volume(self, name: str) -> dict:
        return self._json("GET", "/volumes/" + quote(check_volume(name), safe=""))

    def remove_volume(self, name: str, *, force: bool = False) -> None:
        self._send("DELETE", "/volumes/" + quote(check_volume(name), safe=""),
                   params={"force": int(force)} if force else None)

    def prune_volumes(self, filters: dict[str, list[str]] | None = None) -> dict:
        """POST /volumes/prune: local volumes no container uses (those created
        with options, like a bind to a host folder, are kept by the engine).
        From API 1.42 the engine prunes only anonymous ones unless asked for
        all; Periscope asks for all on every version, so it means one thing."""
        filters = dict(filters or {})
        if version_tuple(self.api_version) >= (1, 42):
            filters.setdefault("all", ["true"])
        return self._prune("volumes", filters)

    # -- networks --------------------------------------------------------------
    def networks(self, *, filters: dict[str, list[str]] | None = None,
                 timeout: float | None = None) -> list[dict]:
        params = {"filters": json.dumps(filters, separators=(",", ":"))} if filters else None
        return self._json("GET", "/networks", params=params, timeout=timeout) or []

    def inspect_network(self, ref: str) -> dict:
        return self._json("GET", "/networks/" + quote(check_network(ref), safe=""))

    def remove_network(self, ref: str) -> None:
        self._send("DELETE", "/networks/" + quote(check_network(ref), safe=""))

    def prune_networks(self, filters: dict[str, list[str]] | None = None) -> dict:
        """POST /networks/prune: custom networks no running container is
        attached to. {"NetworksDeleted": [names]}."""
        return self._prune("networks", filters)

    # -- containers ------------------------------------------------------------
    def containers(self, *, all: bool = False, filters: dict[str, list[str]] | None = None,
                   size: bool = False, timeout: float | None = None) -> list[dict]:
        """GET /containers/json (shared: do not change what it returns)."""
        return self.containers_tagged(all=all, filters=filters, size=size, timeout=timeout)[0]

    def containers_tagged(self, *, all: bool = False,
                          filters: dict[str, list[str]] | None = None, size: bool = False,
                          timeout: float | None = None) -> tuple[list[dict], str]:
        """The list and a tag of the engine's answer: an unchanged tag means an
        unchanged list, so a poll can say "no change" without looking."""
        params: dict[str, Any] = {}
        if all:
            params["all"] = "1"
        if size:
            params["size"] = "1"
        if filters:
            params["filters"] = json.dumps(filters, separators=(",", ":"))
        key = ("containers", tuple(sorted(params.items())))
        if self.watch is not None:
            self.watch.keep()
        return self._shared_json(key, "/containers/json", params=params, timeout=timeout,
                                 across=True, keep=True, lasting=self._list_lasts)

    def _list_lasts(self, started: float, value: tuple[Any, str]) -> bool:
        """A container list holds past the freshness bound while the engine
        has reported no event since its call began (watch.py), for up to
        `quiet_for` seconds; never while a Status text of it counts seconds
        ("Up 12 seconds": the engine's texts move on every second of a
        container's first minute, with no event)."""
        watch = self.watch
        if watch is None or not watch.quiet_since(started):  # (which keeps it watching)
            return False
        if time.monotonic() - started > watch.hold:
            return False
        answer, tag = value
        ticking = self._ticking.get(tag)
        if ticking is None:
            ticking = any("second" in (c.get("Status") or "") for c in answer or ())
            if len(self._ticking) >= 8:  # a few lists at once (filters, pages)
                self._ticking.clear()
            self._ticking[tag] = ticking
        return not ticking

    def _open_events(self, hold: float) -> tuple[requests.Response, Any]:
        """The watch's stream (watch.py): every event from now on, and those
        the engine still holds (since=1); and its reader, which gives the
        bytes as they come off the socket (b"" at the end), or None when none
        came for `hold` seconds: the socket is waited on before it is read,
        so a quiet spell leaves the stream as it was (a read that timed out
        could not go on). Over TCP, keepalive probes find a peer that went
        silently away within about 10 s."""
        resp = self._send("GET", "/events", params={"since": "1"}, stream=True,
                          timeout=(self.connect_timeout, hold))
        fp = getattr(getattr(resp.raw, "_fp", None), "fp", None)
        if fp is None or not hasattr(fp, "read1"):
            resp.close()
            raise EngineError("the events stream cannot be read as it comes")
        sock = getattr(getattr(resp.raw, "_connection", None), "sock", None)
        if isinstance(sock, socket.socket) and sock.family in (socket.AF_INET, socket.AF_INET6):
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 4)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, 2)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, 3)
            except (OSError, AttributeError):  # not Linux: the read timeout alone
                pass
        if not isinstance(sock, socket.socket):  # (no socket to wait on: a quiet
            return resp, lambda: fp.read1(65536)  # `hold` times the read out)
        poller = select.poll()
        poller.register(sock, select.POLLIN)
        pending = getattr(sock, "pending", None)  # TLS: bytes already decrypted
        # the body's last chunk may come on a connection kept open (as a proxy
        # may): it is the end, though no EOF follows
        chunks = Dechunker() if getattr(resp.raw._fp, "chunked", False) else None
        state = {"quiet_since": time.monotonic()}

        def held() -> bool:
            """The reader holds bytes already (parsing the headers may have
            read the first events), or the socket has some, or the stream's
            end: looked at without waiting (a non-blocking socket's read
            gives nothing)."""
            if pending is not None and pending():
                return True
            was = sock.gettimeout()
            sock.settimeout(0)
            try:
                # b"": nothing yet (EAGAIN), or the end; over TLS only the end
                # (its close_notify, already off the socket: poll would not say)
                return bool(fp.peek(1)) or pending is not None
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError, BlockingIOError):
                return False  # a TLS record not whole yet
            finally:
                sock.settimeout(was)

        def read() -> bytes | None:
            if chunks is not None and chunks.done:  # the last chunk came: the end
                return b""
            if not held() and not poller.poll(hold * 1000):
                if time.monotonic() - state["quiet_since"] > self.EVENTS_QUIET_MAX * hold:
                    raise TimeoutError("no byte for a long while: asked anew")
                return None
            data = fp.read1(65536)
            state["quiet_since"] = time.monotonic()
            if chunks is not None:
                chunks.feed(data)
            return data

        return resp, read

    def stats_sample(self, ref: str, timeout: float | None = None) -> dict:
        """One stats sample of a running container, as the engine answers it
        (see app/statsmath.py for the figures). From API 1.41 with
        `one-shot=true`: the engine's next sample, without waiting for a
        second one to fill `precpu_stats` (about 2 s per call otherwise);
        below 1.41 `stream=false` is all there is. A container that is not
        running gets an answer without a sample (its `read` is the zero time)."""
        params = {"stream": "false"}
        if version_tuple(self.api_version) >= (1, 41):
            params["one-shot"] = "true"
        return self._json("GET", self.container_path(ref) + "/stats", params=params,
                          timeout=timeout)

    def top(self, ref: str, ps_args: str | None = None) -> dict:
        """GET /containers/{id}/top: {"Titles": [...], "Processes": [[...], ...]},
        the host's `ps` columns (default `-ef`: UID PID PPID C STIME TTY TIME
        CMD). A container that is not running is a StateConflict. Shared with
        identical reads close together (sharing.py)."""
        path = self.container_path(ref) + "/top"
        params = {"ps_args": ps_args} if ps_args else None
        return self._shared_json(("top", path, ps_args), path, params=params)[0]

    def inspect_container(self, ref: str) -> dict:
        """Inspect by full ID, unique ID prefix or name, as the docker CLI does.
        An ambiguous prefix raises AmbiguousReference naming the candidates."""
        ref = check_ref(ref)
        try:
            return self._shared_json(self._inspect_key(ref),
                                     f"/containers/{quote(ref, safe='')}/json")[0]
        except NotFound:
            raise
        except (BadRequest, EngineError) as exc:
            # 20.10 answers 500 "Multiple IDs found with provided prefix"; newer
            # engines 400. Either way the message says it.
            if exc.status and ("multiple ids" in exc.message.lower()
                               or "ambiguous" in exc.message.lower()):
                raise self._ambiguous(ref) from exc
            raise

    @staticmethod
    def _inspect_key(ref: str) -> tuple:
        """A container's inspect among the shared reads (sharing.py)."""
        return ("inspect", check_ref(ref))

    def _ambiguous(self, ref: str) -> EngineError:
        # The engine's `id` filter does not match short prefixes on every
        # version (20.10 finds nothing for one character): list and match here.
        found = self.containers(all=True)
        candidates = [c for c in found if c.get("Id", "").startswith(ref)]
        if len(candidates) < 2:
            return BadRequest(f"the engine found several containers for {ref!r}")
        return AmbiguousReference(ref, candidates)

    def container_path(self, ref: str) -> str:
        return f"/containers/{quote(check_ref(ref), safe='')}"

    def logs(self, ref: str, *, stdout: bool = True, stderr: bool = True,
             timestamps: bool = False, tail: str | int | None = None,
             since: str | int | float | None = None, until: str | int | float | None = None,
             container: dict | None = None, timeout: float | None = None) -> LogStream:
        """A container's log as a LogStream (see logstream.py): the gateway
        decides how to read it from the container's Config.Tty. Without
        `container` (its inspect), the inspect goes out beside the logs call,
        and the stream carries it. A TTY has one stream: asked for stdout or
        stderr alone, all of it is read."""
        if container is None and self.shared.fresh(self._inspect_key(ref)):
            container = self.inspect_container(ref)  # shared and fresh: no call to wait on
        if container is None:
            fut = _POOL.submit(contextvars.copy_context().run, self.inspect_container, ref)
            resp = err = None
            try:
                resp = self._logs_call(ref, stdout, stderr, timestamps, tail, since, until,
                                       timeout)
            except EngineError as exc:
                err = exc
            try:
                container = fut.result()
            except BaseException:
                if resp is not None:
                    resp.close()
                raise
            if err is not None:
                raise err
        else:
            resp = None
        tty = bool((container.get("Config") or {}).get("Tty"))
        cid = container.get("Id") or ref
        if resp is not None and tty and not (stdout and stderr):
            resp.close()
            resp = None
        if tty:
            stdout = stderr = True
        if resp is None:
            resp = self._logs_call(cid, stdout, stderr, timestamps, tail, since, until, timeout)
        chunked, wire = self._wire(resp)
        name = (container.get("Name") or "").lstrip("/") or cid[:12]
        return LogStream(wire, chunked=chunked, tty=tty, timestamps=timestamps, stdout=stdout,
                         stderr=stderr, container=container, source=name,
                         close=lambda clean=False: self._end(resp, clean))

    @staticmethod
    def _end(resp: requests.Response, clean: bool) -> None:
        """Done with a streamed response. `clean`: its chunked body was read to
        its last chunk and nothing beyond: the connection goes back to the
        pool (over ssh or TLS a new one costs a handshake), else it is closed."""
        if clean:
            hr = getattr(resp.raw, "_fp", None)
            try:
                if hr is not None:
                    hr.close()  # http.client's reader only; the socket stays the connection's
                resp.raw.release_conn()
                return
            except Exception:  # noqa: BLE001 - then it is simply closed
                pass
        resp.close()

    # A follow poll's read, shared by every viewer of one container: the last
    # FOLLOW_WINDOW seconds of its log, at most FOLLOW_TAIL entries.
    FOLLOW_WINDOW = 10.0
    FOLLOW_TAIL = 5000
    FOLLOW_TAIL_MIN = 256
    _WINDOW_HEAD = struct.Struct(">?q")  # tty, the ns from which every entry is in it

    def logs_window(self, ref: str, *, container: dict | None = None
                    ) -> tuple[LogStream, int, dict]:
        """(a LogStream of the window, the time in ns from which it holds every
        entry, the container's inspect). Shared (sharing.py) between the
        viewers and the workers within the freshness bound: however many
        follow one container, the engine is asked once per bound. Both
        streams: the engine counts a tail over both, so only a window of both
        can tell when its tail came back full (the reader picks a stream)."""
        c = container or self.inspect_container(ref)
        cid = c["Id"]
        tty = bool((c.get("Config") or {}).get("Tty"))
        stdout = stderr = True
        key = ("follow", cid)

        def read() -> bytes:
            since_ns = time.time_ns() - int(self.FOLLOW_WINDOW * 1e9)
            # the engine finds a tail by reading back from the log's end, so a
            # window costs what its tail asks, not what it returns: asked for
            # twice the entries of the last window, widened while it comes full.
            # Not a TTY's: the engine counts the 16 KB pieces of its long lines
            # in the tail, so its lines could come short of the tail and still
            # miss entries; it asks for the whole tail.
            tail = (self._follow_tails.get(key, self.FOLLOW_TAIL_MIN) if not tty
                    else self.FOLLOW_TAIL)
            while True:
                stream = self.logs(cid, stdout=stdout, stderr=stderr, timestamps=True,
                                   tail=tail, since=ns_to_engine(since_ns), container=c)
                body = b"".join(stream.body())
                frames = FrameParser().feed(body) if not tty else None
                n = len(frames) if frames is not None else 0
                if n < tail or tail >= self.FOLLOW_TAIL:
                    break
                tail = min(tail * 8, self.FOLLOW_TAIL)
            if len(self._follow_tails) > 256:
                self._follow_tails.clear()
            self._follow_tails[key] = min(max(self.FOLLOW_TAIL_MIN, 2 * n), self.FOLLOW_TAIL)
            cover = since_ns
            if frames is not None and n >= self.FOLLOW_TAIL:
                # a full tail may have cut the window: it covers from its oldest entry on
                entries = frame_entries(frames, True, {})
                cover = min(e[2] for e in entries if e[2] is not None) + 1
            return self._WINDOW_HEAD.pack(tty, cover) + body

        def decode(data: bytes):
            return data

        # not renewed ahead of time: a window costs the engine about as much
        # as a viewer's wait on it (ms), and renewing ahead made one call per
        # 0.85 of the bound in place of one per bound (docs/benchmarks.md)
        data, _age = self.shared.get(key, lambda: read(), raw=(read, decode), ahead=False)
        is_tty, cover = self._WINDOW_HEAD.unpack_from(data)
        body = data[self._WINDOW_HEAD.size:]
        stream = LogStream(iter([body]), chunked=False, tty=is_tty, timestamps=True,
                           stdout=stdout, stderr=stderr, container=c,
                           source=(c.get("Name") or "").lstrip("/"))
        return stream, cover, c

    def _logs_call(self, ref, stdout, stderr, timestamps, tail, since, until, timeout):
        if until is not None and version_tuple(self.api_version) < (1, 35):
            # the engine would ignore it and send everything after `since`
            raise BadRequest(f"this engine speaks API {self.api_version}: logs have no "
                             f"“until” before API 1.35, so a window cannot end here",
                             status=400, method="GET", path=self.container_path(ref) + "/logs")
        params = {"stdout": int(stdout), "stderr": int(stderr), "timestamps": int(timestamps),
                  "tail": None if tail in (None, "all") else str(tail), "since": since,
                  "until": until}
        return self._send("GET", self.container_path(ref) + "/logs", params=params, stream=True,
                          timeout=timeout)

    def _wire(self, resp: requests.Response, size: int = 262144) -> tuple[bool, Iterator[bytes]]:
        """(chunked, pieces): when `chunked`, the pieces are the HTTP/1.1 chunked
        body as it came off the socket, for frames.Dechunker to decode (the
        engine flushes every log frame as one HTTP chunk, and decoding a
        million of them in http.client costs more than the engine takes to send
        them). Otherwise the pieces are the body itself."""
        hr = getattr(resp.raw, "_fp", None)
        fp = getattr(hr, "fp", None)
        chunked = (fp is not None and getattr(hr, "chunked", False)
                   and getattr(hr, "chunk_left", 0) is None and hasattr(fp, "read1")
                   and not resp.headers.get("Content-Encoding"))
        read = (lambda: fp.read1(size)) if chunked else (lambda: resp.raw.read(size))
        return chunked, self._pieces(resp, read)

    def _pieces(self, resp: requests.Response, read) -> Iterator[bytes]:
        try:
            while True:
                try:
                    data = read()
                except Exception as exc:  # noqa: BLE001 - urllib3/OS faults, typed below
                    if "timed out" in str(exc).lower():
                        raise EngineTimeout(f"the engine at {self.host.raw} stopped sending "
                                            f"within {self.read_timeout:g} s",
                                            host=self.host.raw) from exc
                    raise EngineError(f"reading from the engine at {self.host.raw} failed: "
                                      f"{_os_error_text(exc)}") from exc
                if not data:
                    return
                yield data
        finally:
            resp.close()

    # -- a container's filesystem -----------------------------------------------
    def changes(self, ref: str) -> list[dict]:
        """GET /containers/{id}/changes: what the container's writable layer
        holds against its image, as [{"Path": ..., "Kind": 0|1|2}] (0 changed,
        1 added, 2 deleted); [] when nothing changed (the engine says null)."""
        return self._json("GET", self.container_path(ref) + "/changes") or []

    @staticmethod
    def _path_param(path: str) -> dict:
        # a name that is not UTF-8 keeps its bytes (surrogateescape) on the way out
        return {"path": path.encode("utf-8", "surrogateescape")}

    @staticmethod
    def _path_error(exc: EngineError, path: str) -> EngineError:
        """A path through a file ("/etc/passwd/x") is missing, not an engine
        fault: 20.10 answers 500 "lstat <its own storage path>: not a directory"."""
        if (exc.status or 0) >= 500 and "not a directory" in exc.message.lower():
            shown = path.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
            return NoSuchPath(f"there is no {shown} in the container: a part of that path is a "
                              f"file, not a folder", status=404, method=exc.method,
                              path=exc.path)
        return exc

    def path_stat(self, ref: str, path: str) -> PathStat:
        """HEAD /containers/{id}/archive?path=: the path's type, size, mode,
        time and a link's target, before reading anything. A missing path is
        NoSuchPath (a HEAD answer has no body to say what is missing, so the
        container is looked up then: a missing container is NotFound)."""
        try:
            resp = self._send("HEAD", self.container_path(ref) + "/archive",
                              params=self._path_param(path), ok=(404,))
        except EngineError as exc:
            raise self._path_error(exc, path) from exc
        if resp.status_code == 404:
            self.inspect_container(ref)
            shown = path.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
            raise NoSuchPath(f"there is no {shown} in the container", status=404, method="HEAD",
                             path=resp.request.path_url if resp.request else "")
        return PathStat.from_header(resp.headers.get(STAT_HEADER))

    def archive(self, ref: str, path: str, *, timeout: float | None = None) -> Archive:
        """GET /containers/{id}/archive?path=: the path's stat (from the answer's
        header, before any of the body) and its tar (a folder's whole subtree)
        as an Archive: pieces of bytes, never held whole. Works on stopped
        containers. A missing path is NoSuchPath, a missing container NotFound.
        The tar is asked for uncompressed (see below)."""
        # identity: the engine would gzip the tar for a client that accepts it,
        # at a fraction of the speed of the socket and at its CPU's cost
        try:
            resp = self._send("GET", self.container_path(ref) + "/archive",
                              params=self._path_param(path), stream=True, timeout=timeout,
                              headers={"Accept-Encoding": "identity"})
        except EngineError as exc:
            raise self._path_error(exc, path) from exc
        try:
            stat = PathStat.from_header(resp.headers.get(STAT_HEADER))
        except EngineError:
            resp.close()
            raise
        chunked, wire = self._wire(resp)
        return Archive(stat, wire, chunked=chunked, path=path,
                       close=lambda clean=False: self._end(resp, clean))

    def create_container(self, manifest: dict | str, *, name: str | None = None) -> dict:
        """POST /containers/create; returns {"Id": ..., "Warnings": [...]}."""
        params = {"name": name} if name else None
        return self._json("POST", "/containers/create", params=params, body=manifest)

    def _action(self, ref: str, action: str, params: dict | None = None,
                timeout: float | None = None) -> bool:
        """POST /containers/{ref}/{action}. Returns False on 304 (already so)."""
        resp = self._send("POST", self.container_path(ref) + "/" + action, params=params,
                          ok=(304,), timeout=timeout)
        return resp.status_code != 304

    def start(self, ref: str) -> bool:
        return self._action(ref, "start")

    def stop(self, ref: str, t: int | None = None) -> bool:
        return self._action(ref, "stop", {"t": t}, timeout=self.read_timeout + (t or 10))

    def restart(self, ref: str, t: int | None = None) -> bool:
        return self._action(ref, "restart", {"t": t}, timeout=self.read_timeout + (t or 10))

    def kill(self, ref: str, signal: str | None = None) -> bool:
        return self._action(ref, "kill", {"signal": signal})

    def pause(self, ref: str) -> bool:
        return self._action(ref, "pause")

    def unpause(self, ref: str) -> bool:
        return self._action(ref, "unpause")

    def remove(self, ref: str, *, force: bool = False, volumes: bool = False) -> None:
        self._send("DELETE", self.container_path(ref),
                   params={"force": int(force), "v": int(volumes)})

    def wait(self, ref: str, timeout: float = 60) -> dict:
        return self._json("POST", self.container_path(ref) + "/wait", timeout=timeout)

    # -- swarm: services, tasks, nodes ---------------------------------------------
    # A worker, or an engine in no swarm, answers these with a 503 that is
    # raised as NotSwarmManager (see exceptions.from_status).
    def services(self, *, filters: dict[str, list[str]] | None = None,
                 status: bool = True, timeout: float | None = None) -> list[dict]:
        """GET /services; with `status` (API 1.41 and later) each carries its
        ServiceStatus (running, desired and completed tasks), counted by the
        engine. Below 1.41 the engine has no such counts: callers count tasks."""
        return self.services_tagged(filters=filters, status=status, timeout=timeout)[0]

    def services_tagged(self, *, filters: dict[str, list[str]] | None = None,
                        status: bool = True, timeout: float | None = None
                        ) -> tuple[list[dict], str]:
        """services() and a tag of the engine's answer (shared: do not change it)."""
        params: dict[str, Any] = {}
        if status and self.has_service_status:
            params["status"] = "true"
        if filters:
            params["filters"] = json.dumps(filters, separators=(",", ":"))
        return self._shared_json(("services", tuple(sorted(params.items()))), "/services",
                                 params=params or None, timeout=timeout, keep=True)

    @property
    def has_service_status(self) -> bool:
        return version_tuple(self.api_version) >= (1, 41)

    def service_path(self, ref: str) -> str:
        return f"/services/{quote(check_ref(ref), safe='')}"

    def inspect_service(self, ref: str, timeout: float | None = None) -> dict:
        """By ID, unique ID prefix or name, as `docker service inspect` does."""
        return self._json("GET", self.service_path(ref), timeout=timeout)

    def update_service(self, service_id: str, version: int, spec: dict, *,
                       shown: dict | None = None, timeout: float | None = None) -> dict:
        """POST /services/{id}/update?version=N with the whole spec. A version
        that is no longer the service's raises OutOfSequence. `shown`: the
        spec as the Engine calls panel may show it (secret env values masked)."""
        return self._json("POST", self.service_path(service_id) + "/update",
                          params={"version": int(version)}, body=spec,
                          shown_body=None if shown is None else json.dumps(shown),
                          timeout=timeout) or {}

    def tasks(self, *, filters: dict[str, list[str]] | None = None,
              timeout: float | None = None) -> list[dict]:
        params = {"filters": json.dumps(filters, separators=(",", ":"))} if filters else None
        return self._json("GET", "/tasks", params=params, timeout=timeout)

    def nodes(self, *, filters: dict[str, list[str]] | None = None,
              timeout: float | None = None) -> list[dict]:
        params = {"filters": json.dumps(filters, separators=(",", ":"))} if filters else None
        return self._json("GET", "/nodes", params=params, timeout=timeout)

    def service_logs(self, ref: str, *, stdout: bool = True, stderr: bool = True,
                     timestamps: bool = False, tail: str | int | None = None,
                     since: str | int | float | None = None, details: bool = True,
                     service: dict | None = None, timeout: float | None = None) -> LogStream:
        """A service's log (every task's, as the manager gathers them) as a
        LogStream: multiplexed like a container's, raw when the service's
        ContainerSpec asks for a TTY. `details`: each entry carries its task's
        and node's IDs (a sixth item of the entries). The engine applies
        `tail` per task and has no `until` for services. Without `service`
        (its inspect), it is asked first: the TTY decides how to read."""
        if service is None:
            service = self.inspect_service(ref)
        sid = service.get("ID") or ref
        spec = (service.get("Spec") or {}).get("TaskTemplate") or {}
        tty = bool((spec.get("ContainerSpec") or {}).get("TTY"))
        if tty:
            stdout = stderr = True
        params = {"stdout": int(stdout), "stderr": int(stderr), "timestamps": int(timestamps),
                  "details": int(details),
                  "tail": None if tail in (None, "all") else str(tail), "since": since}
        resp = self._send("GET", self.service_path(sid) + "/logs", params=params, stream=True,
                          timeout=timeout)
        chunked, wire = self._wire(resp)
        name = (service.get("Spec") or {}).get("Name") or sid[:12]
        return LogStream(wire, chunked=chunked, tty=tty, timestamps=timestamps, stdout=stdout,
                         stderr=stderr, service=service, source=f"service {name}",
                         details=details, close=lambda clean=False: self._end(resp, clean))
    # -- exec -------------------------------------------------------------------
    def exec_create(self, ref: str, cmd: list[str], *, user: str | None = None,
                    workdir: str | None = None, env: list[str] | None = None,
                    tty: bool = True, attach: bool = True) -> str:
        """POST /containers/{id}/exec; returns the exec's ID. `attach`: stdin,
        stdout and stderr all attached (a terminal); else none (a command
        started detached)."""
        body: dict[str, Any] = {"AttachStdin": attach, "AttachStdout": attach,
                                "AttachStderr": attach, "Tty": tty, "Cmd": list(cmd)}
        if user:
            body["User"] = user
        if env:
            body["Env"] = list(env)
        if workdir:
            if version_tuple(self.api_version) < (1, 35):
                raise BadRequest(f"this engine speaks API {self.api_version}; a working "
                                 "directory for exec needs 1.35")
            body["WorkingDir"] = workdir
        return self._json("POST", self.container_path(ref) + "/exec", body=body)["Id"]

    def _exec_path(self, exec_id: str) -> str:
        if not re.fullmatch(r"[0-9a-f]{64}", exec_id or ""):
            raise InvalidReference(str(exec_id)[:80], "an exec ID is 64 hex digits")
        return f"/exec/{exec_id}"

    def exec_start(self, exec_id: str, *, tty: bool = True,
                   console_size: tuple[int, int] | None = None) -> ExecStream:
        """POST /exec/{id}/start (Detach false) on a connection of its own,
        hijacked by the engine (101 UPGRADED): the returned ExecStream carries
        the exec's bytes both ways, raw (with a TTY). `console_size`: (rows,
        cols), sent with the start where the API takes it (1.42), else by a
        resize right after it."""
        api = self.api_version
        path = f"/v{api}{self._exec_path(exec_id)}/start"
        body: dict[str, Any] = {"Detach": False, "Tty": tty}
        if console_size and version_tuple(api) >= (1, 42):
            body["ConsoleSize"] = [int(console_size[0]), int(console_size[1])]
        t0 = time.perf_counter()
        body_text = json.dumps(body)
        try:
            stream = hijack.start(self.host, path, body, exec_id=exec_id,
                                  timeout=self.connect_timeout + self.read_timeout,
                                  ssh_argv=self._ssh.argv if self._ssh else None,
                                  ssh_log=self._ssh.log if self._ssh else None)
        except EngineError as exc:
            self._record("POST", path, exc.status, t0, body_text, exc.message)
            raise
        except (OSError, ValueError) as exc:
            import ssl

            if isinstance(exc, ssl.SSLError):
                reason = _tls_reason(exc, self.host)
            elif self._ssh is not None:
                reason = self._ssh_reason(exc)
            else:
                reason = _os_error_text(exc)
            self._record("POST", path, None, t0, body_text, reason)
            raise EngineUnreachable(f"cannot connect to the engine at {self.host.raw}: {reason}",
                                    host=self.host.raw, os_error=reason, method="POST",
                                    path=path) from exc
        self._record("POST", path, 101, t0, body_text)
        if console_size and "ConsoleSize" not in body:
            try:  # before 1.42 the size follows the start
                self.exec_resize(exec_id, *console_size)
            except EngineError:
                pass  # a command that ended at once has no TTY left to size
        return stream

    def exec_start_detached(self, exec_id: str) -> None:
        """POST /exec/{id}/start with Detach true: the command runs on its own."""
        self._send("POST", self._exec_path(exec_id) + "/start",
                   body={"Detach": True, "Tty": False})

    def exec_resize(self, exec_id: str, rows: int, cols: int) -> None:
        """POST /exec/{id}/resize (the TTY's rows and columns)."""
        self._send("POST", self._exec_path(exec_id) + "/resize",
                   params={"h": int(rows), "w": int(cols)})

    def exec_inspect(self, exec_id: str) -> dict:
        """GET /exec/{id}/json: Running, ExitCode, Pid, the process config."""
        return self._json("GET", self._exec_path(exec_id) + "/json")

    # -- events and images ---------------------------------------------------
    def events(self, *, since: str | int | float, until: str | int | float,
               filters: dict[str, list[str]] | None = None,
               timeout: float | None = None) -> list[dict]:
        """A bounded window of past events (since..until); never held open."""
        params: dict[str, Any] = {"since": since, "until": until}
        if filters:
            params["filters"] = json.dumps(filters, separators=(",", ":"))
        resp = self._send("GET", "/events", params=params, stream=True, timeout=timeout)
        try:
            body = resp.content  # read whole (256 events at most): the connection is kept
        except (requests.exceptions.Timeout, TimeoutError) as exc:
            raise EngineTimeout(f"the engine at {self.host.raw} stopped sending events "
                                f"within {self.read_timeout:g} s", host=self.host.raw) from exc
        except (requests.exceptions.RequestException, OSError) as exc:
            resp.close()
            raise EngineError(f"reading events from {self.host.raw} was cut off: "
                              f"{_os_error_text(exc)}") from exc
        out = []
        for line in body.splitlines():
            if line.strip():
                try:
                    out.append(_loads(line))
                except ValueError:
                    raise EngineError(f"malformed event from the engine: {line[:200]!r}") from None
        return out

    _EVENTS_HEAD = struct.Struct(">qq")  # the window's since and until, in ns

    def events_window(self, *, seconds: float, lag_ns: int,
                      filters: dict[str, list[str]] | None = None
                      ) -> tuple[list[dict], int, int]:
        """(events, since_ns, until_ns): the last `seconds` of events up to
        `lag_ns` before now, shared (sharing.py) between the viewers and the
        workers within the freshness bound: however many watch the events
        page, the engine is asked once per bound. The events are shared:
        copy before changing one."""
        def read() -> bytes:
            until = time.time_ns() - lag_ns
            since = until - int(seconds * 1e9)
            params: dict[str, Any] = {"since": ns_to_engine(since), "until": ns_to_engine(until)}
            if filters:
                params["filters"] = json.dumps(filters, separators=(",", ":"))
            body = self._send("GET", "/events", params=params, timeout=None).content
            return self._EVENTS_HEAD.pack(since, until) + body

        def decode(data: bytes):
            since, until = self._EVENTS_HEAD.unpack_from(data)
            out = []
            for line in data[self._EVENTS_HEAD.size:].splitlines():
                if line.strip():
                    try:
                        out.append(_loads(line))
                    except ValueError:
                        raise EngineError(f"malformed event from the engine: {line[:200]!r}") \
                            from None
            return out, since, until

        key = ("events-window", json.dumps(filters, sort_keys=True) if filters else None, seconds)
        value, _age = self.shared.get(key, lambda: decode(read()), raw=(read, decode))
        return value

    def pull(self, image: str, tag: str | None = None) -> Iterator[dict]:
        """POST /images/create, yielding each progress message as it arrives."""
        params = {"fromImage": image, "tag": tag}
        resp = self._send("POST", "/images/create", params=params, stream=True,
                          timeout=(self.connect_timeout, 300))
        try:
            for line in resp.iter_lines():
                if line.strip():
                    try:
                        yield json.loads(line)
                    except ValueError:
                        yield {"error": line.decode("utf-8", "replace")}
        except requests.exceptions.RequestException as exc:  # cut off or stalled mid-pull
            raise EngineError(f"the pull's progress from {self.host.raw} broke off: "
                              f"{_os_error_text(exc)}", method="POST",
                              path="/images/create") from exc
        finally:
            resp.close()

    def close(self) -> None:
        if self.watch is not None:
            self.watch.close()
        self._session.close()


def from_env(env: dict[str, str] | None = None, **kw) -> Engine:
    import os

    env = os.environ if env is None else env
    return Engine(parse_host(env.get("DOCKER_HOST"), env), **kw)


__all__ = ["Engine", "ExecStream", "from_env", "check_ref", "check_image_ref", "check_volume",
           "check_network", "MAX_API_VERSION", "MIN_API_VERSION", "NotFound"]
