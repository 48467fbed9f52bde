"""Engines that misbehave on purpose, on unix sockets under /tmp/sec6-*/:
a proxy to the real engine that can be cut and restored, a socket that accepts
and never answers, and a tiny fake HTTP engine with canned answers."""

from __future__ import annotations

import http.server
import os
import shutil
import socket
import socketserver
import tempfile
import threading
from pathlib import Path


def short_tmp() -> Path:
    """A folder with a short path (unix socket paths are limited to 107 bytes)."""
    return Path(tempfile.mkdtemp(prefix="sec6-", dir="/tmp"))


class CuttableProxy:
    """Relays a unix socket to the real engine's socket until cut()."""

    def __init__(self, path: Path, target: str):
        self.path = Path(path)
        self.target = target
        self._listener: socket.socket | None = None
        self._conns: set[socket.socket] = set()
        self._lock = threading.Lock()

    def start(self) -> "CuttableProxy":
        ls = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        ls.bind(str(self.path))
        ls.listen(64)
        self._listener = ls
        threading.Thread(target=self._accept, args=(ls,), daemon=True).start()
        return self

    def _accept(self, ls: socket.socket) -> None:
        while True:
            try:
                client, _ = ls.accept()
            except OSError:
                return
            try:
                upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                upstream.connect(self.target)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns.update((client, upstream))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def cut(self) -> None:
        """The engine goes away: no socket file, every open connection dropped."""
        if self._listener:
            self._listener.close()
            self._listener = None
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass
        with self._lock:
            conns, self._conns = self._conns, set()
        for s in conns:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def restore(self) -> None:
        self.start()

    def close(self) -> None:
        self.cut()


class StalledEngine:
    """Accepts connections and never answers (reads and drops what it gets)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(str(self.path))
        self.sock.listen(256)
        self.accepted = 0
        self._held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            self._held.append(c)  # kept open, never answered

    def close(self) -> None:
        self.sock.close()
        for c in self._held:
            try:
                c.close()
            except OSError:
                pass
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass


def _vt(v: str) -> tuple[int, ...]:
    return tuple(int(x) for x in v.split("."))


class UnixHTTPServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


class FakeEngine:
    """A tiny HTTP engine on a unix socket: /_ping answers `api_version`; every
    other path answers what `routes` says: {path_prefix: (status, body, ctype)}
    (the body may be a function of the path, called for each answer; status
    "raw": the body is the whole answer's bytes, headers and all, and the
    connection closes after it: a body that breaks off; "held": the same,
    and the connection is held open after it until the fake is closed).
    With `min_version`, a versioned path below it is refused as Docker 29 does.
    Every request is recorded in `seen` as "METHOD /path"."""

    def __init__(self, path: Path, routes: dict[str, tuple[int, str, str]], *,
                 api_version: str = "1.41", min_version: str | None = None,
                 gate: threading.Event | None = None):
        """`gate`: answers to routed paths wait until it is set (requests in
        flight together, deterministically)."""
        self.path = Path(path)
        self.routes = routes
        self.seen: list[str] = []
        self.gate = gate
        self.released = threading.Event()  # "held" answers let go
        fake = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def address_string(self):
                return "fake"

            def _answer(self):
                fake.seen.append(f"{self.command} {self.path}")
                n = int(self.headers.get("Content-Length") or 0)
                if n:
                    self.rfile.read(n)
                asked = self.path.split("/")[1][1:] if self.path.startswith("/v1.") else None
                if self.path == "/_ping":
                    status, body, ctype = 200, "OK", "text/plain"
                elif asked and min_version and _vt(asked) < _vt(min_version):
                    status, ctype = 400, "application/json"
                    body = (f'{{"message":"client version {asked} is too old. Minimum '
                            f'supported API version is {min_version}"}}')
                else:
                    status, body, ctype = 404, '{"message":"page not found"}', "application/json"
                    for prefix, answer in fake.routes.items():
                        if self.path.split("?")[0].startswith(prefix):
                            status, body, ctype = answer
                            if fake.gate is not None:
                                fake.gate.wait(30)
                            if callable(body):
                                body = body(self.path)
                            break
                if status in ("raw", "held"):  # the whole answer as given, then the end
                    self.wfile.write(body)
                    self.wfile.flush()
                    if status == "held":
                        fake.released.wait(30)
                    self.close_connection = True
                    return
                data = body.encode()
                self.send_response(status)
                self.send_header("Api-Version", api_version)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_DELETE = do_HEAD = _answer

        self.server = UnixHTTPServer(str(self.path), H)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass


def remove_tree(p: Path) -> None:
    shutil.rmtree(p, ignore_errors=True)
