"""The Engine API gateway: one pooled session per process, a negotiated API
version, versioned paths, typed errors. It knows nothing of Flask and renders
nothing; views call its methods and never build Engine URLs themselves.
"""

from __future__ import annotations

import contextvars
import json
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Iterator
from urllib.parse import quote, urlencode

import requests

from . import calls
from .exceptions import (AmbiguousReference, BadRequest, EngineError, EngineTimeout,
                         EngineUnreachable, InvalidReference, NotFound, from_status)
from .hosts import Host, parse_host
from .logstream import LogStream
from .shared import SharedReads
from .transports import SSHAdapter, UnixAdapter

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


class Engine:
    """A client for one Docker Engine."""

    def __init__(self, host: Host | str | None = None, *, connect_timeout: float = 3.0,
                 read_timeout: float = 30.0, max_api: str = MAX_API_VERSION, pool_size: int = 32,
                 name: str = "default"):
        self.host = host if isinstance(host, Host) else parse_host(host)
        self.name = name
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.max_api = max_api
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
        self._api: str | None = None
        self._engine_api: str | None = None
        self._lock = threading.Lock()
        self.shared = SharedReads()

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
              headers: dict | None = None, ok: tuple[int, ...] = ()) -> requests.Response:
        """Send one request; return the response on 2xx (or a status in `ok`),
        raise a typed error otherwise. Records the call."""
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
        body_text = None
        hdrs = dict(headers or {})
        if body is not None:
            body_text = body if isinstance(body, str) else json.dumps(body)
            data = body_text.encode("utf-8")
            hdrs.setdefault("Content-Type", "application/json")
        if timeout is None:
            timeout = (self.connect_timeout, self.read_timeout)
        elif not isinstance(timeout, tuple):
            timeout = (self.connect_timeout, timeout)
        t0 = time.perf_counter()
        try:
            # verify is passed per request: a session-level CA would lose to
            # REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE from the environment.
            resp = self._session.request(method, self.host.base_url + full_path, data=data,
                                         headers=hdrs, stream=stream, timeout=timeout,
                                         verify=self._session.verify)
        except requests.exceptions.ReadTimeout as exc:
            self._record(method, full_path, None, t0, body_text, "timed out")
            raise EngineTimeout(
                f"the engine at {self.host.raw} accepted the connection but did not answer "
                f"within {timeout[1]:g} s", host=self.host.raw, seconds=timeout[1],
                method=method, path=full_path) from exc
        except requests.exceptions.ConnectTimeout as exc:
            self._record(method, full_path, None, t0, body_text, "connect timed out")
            self.forget_version()
            self.shared.clear()
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
            self._record(method, full_path, None, t0, body_text, reason)
            self.forget_version()
            self.shared.clear()  # it went away: no answer from before is given again
            raise EngineUnreachable(f"cannot connect to the engine at {self.host.raw}: {reason}",
                                    host=self.host.raw, os_error=reason, method=method,
                                    path=full_path) from exc
        except requests.exceptions.RequestException as exc:
            self._record(method, full_path, None, t0, body_text, str(exc))
            raise EngineError(f"request to the engine failed: {exc}", method=method,
                              path=full_path) from exc
        self._record(method, full_path, resp.status_code, t0, body_text)
        if method != "GET":
            self.shared.clear()  # a change: no answer from before it is given again
        if 200 <= resp.status_code < 300 or resp.status_code in ok:
            return resp
        raise self._error_from(resp, method, full_path)

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
        resp = self._send(method, path, **kw)
        if resp.status_code == 204 or not resp.content:
            return None
        try:
            return _loads(resp.content)
        except ValueError:
            snippet = resp.text[:500]
            raise EngineError(f"the engine sent something that is not JSON: {snippet!r}",
                              status=resp.status_code, method=method, path=path) from None

    # -- system --------------------------------------------------------------
    def ping(self, timeout: float | None = None) -> str:
        """Check the engine answers; returns the API version in use."""
        self._send("GET", "/_ping", versioned=False, timeout=timeout)
        return self.api_version

    def version(self, timeout: float | None = None) -> dict:
        return self._json("GET", "/version", timeout=timeout)

    def info(self, timeout: float | None = None) -> dict:
        return self._json("GET", "/info", timeout=timeout)

    def images(self) -> list[dict]:
        return self._json("GET", "/images/json")

    # -- containers ------------------------------------------------------------
    def containers(self, *, all: bool = False, filters: dict[str, list[str]] | None = None,
                   size: bool = False, timeout: float | None = None,
                   max_age: float = 0) -> list[dict]:
        """GET /containers/json. `max_age` > 0: an answer to the same question
        at most that many seconds old may be given instead (a live poll; see
        shared.py); the answer is shared, never to be changed by the caller."""
        params: dict[str, Any] = {}
        if all:
            params["all"] = "1"
        if size:
            params["size"] = "1"
        if filters:
            params["filters"] = json.dumps(filters, separators=(",", ":"))
        if max_age > 0:
            return self.shared.get(("containers", tuple(sorted(params.items()))), max_age,
                                   lambda: self._json("GET", "/containers/json", params=params,
                                                      timeout=timeout))
        return self._json("GET", "/containers/json", params=params, timeout=timeout)

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

    def top(self, ref: str, ps_args: str | None = None, max_age: float = 0) -> dict:
        """GET /containers/{id}/top: {"Titles": [...], "Processes": [[...], ...]},
        the host's `ps` columns (default `-ef`: UID PID PPID C STIME TTY TIME
        CMD). A container that is not running is a StateConflict. `max_age`:
        as for containers()."""
        path = self.container_path(ref) + "/top"
        params = {"ps_args": ps_args} if ps_args else None
        if max_age > 0:
            return self.shared.get(("top", path, ps_args), max_age,
                                   lambda: self._json("GET", path, params=params))
        return self._json("GET", path, params=params)

    def inspect_container(self, ref: str) -> dict:
        """Inspect by full ID, unique ID prefix or name, as the docker CLI does.
        An ambiguous prefix raises AmbiguousReference naming the candidates."""
        ref = check_ref(ref)
        try:
            return self._json("GET", f"/containers/{quote(ref, safe='')}/json")
        except NotFound:
            raise
        except (BadRequest, EngineError) as exc:
            # 20.10 answers 500 "Multiple IDs found with provided prefix"; newer
            # engines 400. Either way the message says it.
            if exc.status and ("multiple ids" in exc.message.lower()
                               or "ambiguous" in exc.message.lower()):
                raise self._ambiguous(ref) from exc
            raise

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

    def _logs_call(self, ref, stdout, stderr, timestamps, tail, since, until, timeout):
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
        self._session.close()


def from_env(env: dict[str, str] | None = None, **kw) -> Engine:
    import os

    env = os.environ if env is None else env
    return Engine(parse_host(env.get("DOCKER_HOST"), env), **kw)


__all__ = ["Engine", "from_env", "check_ref", "MAX_API_VERSION", "MIN_API_VERSION", "NotFound"]
