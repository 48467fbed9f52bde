"""The terminal from outside, as a browser would use it: the page's CSRF token
and session cookie, then a WebSocket to its data-ws path (simple-websocket's
client) that sends keystrokes and reads the exec's bytes and Periscope's JSON
notices. Also a raw handshake, to see a refusal's HTTP status, and the docker
CLI as the witness of what runs in the container (ExecIDs, top)."""

from __future__ import annotations

import base64
import http.client
import json
import os
import re
import socket
import time
from html import unescape
from urllib.parse import urlencode, urlsplit

import requests
from simple_websocket import ConnectionClosed
from wsproto import ConnectionType, WSConnection
from wsproto.connection import ConnectionState
from wsproto.events import (AcceptConnection, BytesMessage, CloseConnection, Ping, RejectConnection,
                            Request, TextMessage)

PROTOCOL = "periscope.terminal"


class WSClient:
    """A small synchronous WebSocket client on wsproto (what simple-websocket
    is built on), one thread, no background reader: every frame the server
    sends is seen, even those that come in the same packet as the 101."""

    def __init__(self, url: str, subprotocols: list[str], headers: dict[str, str],
                 timeout: float = 15.0):
        u = urlsplit(url)
        self.sock = socket.create_connection((u.hostname, u.port), timeout=timeout)
        self.ws = WSConnection(ConnectionType.CLIENT)
        target = u.path + (f"?{u.query}" if u.query else "")
        self.sock.sendall(self.ws.send(Request(
            host=f"{u.hostname}:{u.port}", target=target, subprotocols=subprotocols,
            extra_headers=[(k.encode(), v.encode()) for k, v in headers.items()])))
        self.pending: list = []
        self.connected = False
        self.status = None
        deadline = time.monotonic() + timeout
        while self.status is None:
            if time.monotonic() > deadline:
                raise AssertionError("no answer to the handshake")
            self._feed(timeout)
        if self.status != 101:
            raise ConnectionError(self.status)

    def _feed(self, timeout: float) -> bool:
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            return False
        except OSError:
            data = b""
        self.ws.receive_data(data or None)
        for ev in self.ws.events():
            if isinstance(ev, AcceptConnection):
                self.status, self.connected = 101, True
            elif isinstance(ev, RejectConnection):
                self.status = ev.status_code
            elif isinstance(ev, (TextMessage, BytesMessage)):
                self.pending.append(ev.data if isinstance(ev, TextMessage) else bytes(ev.data))
            elif isinstance(ev, Ping):
                self.sock.sendall(self.ws.send(ev.response()))
            elif isinstance(ev, CloseConnection):
                if self.ws.state is ConnectionState.REMOTE_CLOSING:
                    self.sock.sendall(self.ws.send(ev.response()))
                self.connected = False
        if not data:
            self.connected = False
            if self.status is None:
                self.status = 0
        return True

    def receive(self, timeout: float):
        """A message (str or bytes), None when none came in time; raises
        ConnectionClosed once the connection is over and nothing is left."""
        if not self.pending and self.connected:
            self._feed(timeout)
        if self.pending:
            return self.pending.pop(0)
        if not self.connected:
            raise ConnectionClosed()
        return None

    def send(self, data) -> None:
        msg = TextMessage(data) if isinstance(data, str) else BytesMessage(data)
        self.sock.sendall(self.ws.send(msg))

    def close(self) -> None:
        if self.connected:
            self.sock.sendall(self.ws.send(CloseConnection(code=1000)))
            self.connected = False
        self.sock.close()


class Page:
    """The terminal page of one container: its session, token and WebSocket path."""

    def __init__(self, base: str, path: str, session: requests.Session | None = None):
        self.base = base
        self.session = session or requests.Session()
        r = self.session.get(base + path, timeout=30)
        self.status = r.status_code
        self.text = r.text
        m = re.search(r'data-ws="([^"]+)" data-csrf="([^"]+)"', r.text)
        self.ws_path = unescape(m.group(1)) if m else None
        self.csrf = unescape(m.group(2)) if m else None

    @property
    def cookie(self) -> str:
        return "; ".join(f"{c.name}={c.value}" for c in self.session.cookies)

    def connect(self, *, origin: str | None = "same", token: str | None = "page",
                **query) -> "Term":
        url = "ws" + self.base[4:] + self.ws_path
        if query:
            url += "?" + urlencode(query)
        headers = {"Cookie": self.cookie}
        if origin:
            headers["Origin"] = self.base if origin == "same" else origin
        protocols = [PROTOCOL]
        if token:
            protocols.append("csrf." + (self.csrf if token == "page" else token))
        return Term(WSClient(url, protocols, headers))


class Term:
    def __init__(self, ws: WSClient):
        self.ws = ws
        self.output = b""
        self.notices: list[dict] = []
        self.closed = False

    def send(self, data: bytes) -> None:
        self.ws.send(data)

    def resize(self, rows: int, cols: int) -> None:
        self.ws.send(json.dumps({"type": "resize", "rows": rows, "cols": cols}))

    def _read(self, timeout: float) -> bool:
        try:
            msg = self.ws.receive(timeout=timeout)
        except ConnectionClosed:
            self.closed = True
            return False
        if msg is None:
            return not self.closed
        if isinstance(msg, str):
            self.notices.append(json.loads(msg))
        else:
            self.output += msg
        return True

    def until(self, cond, timeout: float = 15.0, what: str = "") -> None:
        """Read until cond(self) holds (a condition with a deadline)."""
        deadline = time.monotonic() + timeout
        while not cond(self):
            left = deadline - time.monotonic()
            if left <= 0 or (self.closed and not cond(self)):
                raise AssertionError(f"timed out waiting for {what or cond}: output "
                                     f"{self.output[-600:]!r}, notices {self.notices}")
            self._read(min(left, 0.5))

    def wait_output(self, needle: bytes | str, timeout: float = 15.0) -> None:
        if isinstance(needle, str):
            needle = needle.encode()
        self.until(lambda t: needle in t.output, timeout, f"output {needle!r}")

    def wait_re(self, pattern: bytes, timeout: float = 15.0) -> re.Match:
        self.until(lambda t: re.search(pattern, t.output), timeout, f"output /{pattern!r}/")
        return re.search(pattern, self.output)

    def notice(self, kind: str, timeout: float = 15.0) -> dict:
        self.until(lambda t: any(n["type"] == kind for n in t.notices), timeout, kind)
        return next(n for n in self.notices if n["type"] == kind)

    def started(self, timeout: float = 15.0) -> dict:
        return self.notice("started", timeout)

    def end(self, timeout: float = 15.0) -> dict:
        return self.notice("end", timeout)

    def close(self) -> None:
        try:
            self.ws.close()
        except ConnectionClosed:
            pass

    def drop(self) -> None:
        """Go away without a close frame (a tab killed, a network gone)."""
        self.closed = True
        try:
            self.ws.sock.shutdown(2)
        except OSError:
            pass
        self.ws.sock.close()


def raw_handshake(base: str, path: str, headers: dict[str, str]) -> int:
    """A WebSocket handshake by hand; returns the HTTP status of the answer."""
    u = urlsplit(base)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    key = base64.b64encode(os.urandom(16)).decode()
    h = {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Key": key,
         "Sec-WebSocket-Version": "13"}
    h.update(headers)
    conn.request("GET", path, headers=h)
    status = conn.getresponse().status
    conn.close()
    return status


def exec_ids(docker, cid: str) -> list[str]:
    """The container's execs the engine knows now (a finished one drops out soon)."""
    return docker.inspect(cid).get("ExecIDs") or []


def execs_created(docker, cid: str, since: float) -> list[str]:
    """Every terminal exec made in the container since `since` (Unix time),
    finished or not: the engine's exec_create events (less Periscope's
    hangups, which end a terminal's processes)."""
    out = docker("events", "--since", f"{since:.3f}", "--until", f"{time.time() + 1:.3f}",
                 "--filter", "type=container", "--filter", f"container={cid}",
                 "--filter", "event=exec_create", "--format", "{{.Action}}")
    return [line for line in out.splitlines()
            if line.startswith("exec_create") and "exec 2>/dev/null; m=" not in line]


def processes(docker, cid: str) -> list[str]:
    """The command lines `docker top` shows (the witness of what runs)."""
    out = docker("top", cid, "-o", "pid,args", check=False)
    return [line.split(None, 1)[1] for line in out.splitlines()[1:] if len(line.split(None, 1)) > 1]


def wait_gone(docker, cid: str, needle: str, timeout: float = 40.0,
              shell: bool = False) -> list[str]:
    """Poll `docker top` until no process holds `needle` (and, with `shell`,
    no bare /bin/sh is left: the terminal's shell, which the reaper may still
    be killing after its children went); returns the last list."""
    deadline = time.monotonic() + timeout
    while True:
        procs = processes(docker, cid)
        left = any(needle in p or (shell and p.strip() == "/bin/sh") for p in procs)
        if not left or time.monotonic() > deadline:
            return procs
        time.sleep(0.1)
