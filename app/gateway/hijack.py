"""Hijacked connections: POST /exec/{id}/start answered `101 UPGRADED`
(Upgrade: tcp), after which the HTTP connection carries the exec's raw bytes
both ways. requests cannot hand a connection over like that, so this module
opens its own socket, the one way each engine kind is reached:

- unix: the engine's socket;
- tcp: a TCP connection (TCP_NODELAY: a keystroke is one small write);
- tcp+TLS: the same, wrapped in TLS with the engine's CA and client
  certificate from its Host, the server name checked;
- ssh: a dedicated `ssh ... docker system dial-stdio` (transports.SSHProcess),
  whose socket-pair end is a real socket.

It writes the request itself, reads the answer's head, and hands back an
`ExecStream`: send(bytes), recv() and close(), nothing of HTTP left, safe to
read in one thread while another writes (over TLS too: `TLSExecStream`). With a TTY
(all the terminal uses) the bytes are the terminal's, unframed. No Flask here.
"""

from __future__ import annotations

import json
import select
import socket
import ssl
import threading
from typing import Callable

from .exceptions import EngineError, EngineTimeout, from_status
from .hosts import Host
from .transports import SSHLog, SSHProcess

HEAD_LIMIT = 64 * 1024  # an answer head longer than this is not an engine's


def _split_netloc(netloc: str) -> tuple[str, int]:
    if netloc.startswith("["):
        host, _, port = netloc[1:].partition("]:")
        return host, int(port)
    host, _, port = netloc.rpartition(":")
    return host, int(port)


def tls_context(host: Host) -> ssl.SSLContext:
    """The TLS settings requests uses for this engine: its CA (else the
    system's), its client certificate, the server's name or IP checked."""
    ctx = ssl.create_default_context(cafile=host.ca_cert) if host.ca_cert else \
        ssl.create_default_context()
    if host.client_cert:
        ctx.load_cert_chain(*host.client_cert)
    return ctx


def connect(host: Host, timeout: float, ssh_argv: list[str] | None = None,
            ssh_log: SSHLog | None = None) -> tuple[socket.socket, Callable[[], None]]:
    """A connected socket to the engine and the function that closes it.
    Raises OSError (ssl.SSLError for TLS) as the OS reports it."""
    if host.scheme == "unix":
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect(host.socket_path or "")
        except BaseException:
            sock.close()
            raise
        return sock, sock.close
    if host.scheme == "ssh":
        proc = SSHProcess(ssh_argv or host.ssh_argv(timeout), ssh_log or SSHLog(), timeout)
        return proc.sock, proc.close
    name, port = _split_netloc(host.netloc or "")
    sock = socket.create_connection((name, port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if host.scheme == "https":
        try:
            sock = tls_context(host).wrap_socket(sock, server_hostname=name)
        except BaseException:
            sock.close()
            raise
    return sock, sock.close


class ExecStream:
    """The raw bytes of one started exec, both ways. recv() returns b"" once
    the exec's output has ended (the command exited, the container stopped,
    or close() was called from another thread). Safe to close() while another
    thread is blocked in recv(): that recv returns b""."""

    def __init__(self, exec_id: str, sock: socket.socket, closer: Callable[[], None],
                 first: bytes = b""):
        self.exec_id = exec_id
        self._sock = sock
        self._closer = closer
        self._first = first
        self._closed = False
        self._lock = threading.Lock()
        sock.settimeout(None)

    def recv(self, size: int = 65536) -> bytes:
        if self._first:
            data, self._first = self._first, b""
            return data
        if self._closed:
            return b""
        try:
            return self._sock.recv(size)
        except (OSError, ValueError):  # closed under us, reset, TLS torn down
            return b""

    def send(self, data: bytes) -> None:
        """Bytes to the exec's stdin. Raises EngineError once the stream is gone."""
        if self._closed:
            raise EngineError("the exec's stream is closed")
        try:
            self._sock.sendall(data)
        except (OSError, ValueError) as exc:
            raise EngineError(f"writing to the exec failed: {exc}") from exc

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        try:  # wakes a recv() blocked in another thread (close alone does not)
            self._sock.shutdown(socket.SHUT_RDWR)
        except (OSError, ValueError):
            pass
        try:
            self._closer()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class TLSExecStream(ExecStream):
    """The same over TLS. An SSLSocket must not be read and written by two
    threads at once (OpenSSL's SSL objects are not thread-safe; CPython adds
    no lock): a read in one thread while a keystroke is written from another
    can corrupt the TLS state. So the reader waits for the socket outside a
    lock (select, and pending() for bytes already decrypted), then reads
    without blocking under it; a write holds the same lock. Neither blocks
    the other for longer than one non-blocking read or one write."""

    def recv(self, size: int = 65536) -> bytes:
        if self._first:
            data, self._first = self._first, b""
            return data
        sock = self._sock
        while not self._closed:
            try:
                if not sock.pending():
                    select.select([sock], [], [])
                with self._lock:
                    if self._closed:
                        return b""
                    sock.settimeout(0.0)
                    return sock.recv(size)
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                continue  # a partial record, or one that was not data (a session ticket)
            except (OSError, ValueError):
                return b""
        return b""

    def send(self, data: bytes) -> None:
        with self._lock:
            if self._closed:
                raise EngineError("the exec's stream is closed")
            try:
                self._sock.settimeout(None)
                self._sock.sendall(data)
            except (OSError, ValueError) as exc:
                raise EngineError(f"writing to the exec failed: {exc}") from exc

    def close(self) -> None:
        with self._lock:  # never while the reader is inside OpenSSL
            if self._closed:
                return
            self._closed = True
            try:
                socket.socket.shutdown(self._sock, socket.SHUT_RDWR)  # wakes the select
            except (OSError, ValueError):
                pass
            try:
                self._closer()
            except OSError:
                pass


def read_head(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """The status, headers (lower-case names) and whatever came after the head."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(4096)
        if not chunk:
            raise EngineError("the engine closed the connection before answering")
        buf += chunk
        if len(buf) > HEAD_LIMIT:
            raise EngineError("the engine's answer head is too long")
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise EngineError(f"the engine did not answer in HTTP: {lines[0][:100]!r}")
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return int(parts[1]), headers, rest


def _read_body(sock: socket.socket, headers: dict[str, str], rest: bytes) -> bytes:
    """The (small) body of a refusal: by Content-Length, chunked, or to EOF."""
    limit = 65536
    body = rest
    try:
        if headers.get("transfer-encoding", "").lower() == "chunked":
            while b"\r\n0\r\n" not in b"\r\n" + body and len(body) < limit:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                body += chunk
            out, data = b"", body
            while data:
                size_line, _, data = data.partition(b"\r\n")
                try:
                    n = int(size_line.split(b";")[0], 16)
                except ValueError:
                    break
                if n == 0:
                    break
                out += data[:n]
                data = data[n + 2:]
            return out
        n = headers.get("content-length")
        want = int(n) if n and n.isdigit() else limit
        while len(body) < min(want, limit):
            chunk = sock.recv(4096)
            if not chunk:
                break
            body += chunk
        return body[:want]
    except OSError:
        return body


def start(host: Host, path: str, body: dict, *, exec_id: str, timeout: float,
          ssh_argv: list[str] | None = None, ssh_log: SSHLog | None = None) -> ExecStream:
    """Send POST `path` (the versioned /exec/{id}/start) asking for the
    connection to be hijacked; return the stream once the engine agreed.
    Raises the typed errors (a refusal keeps the engine's message)."""
    payload = json.dumps(body).encode()
    request = (f"POST {path} HTTP/1.1\r\nHost: docker\r\nUser-Agent: Periscope\r\n"
               "Content-Type: application/json\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n"
               f"Content-Length: {len(payload)}\r\n\r\n").encode() + payload
    sock, closer = connect(host, timeout, ssh_argv, ssh_log)
    handed_over = False
    try:
        sock.settimeout(timeout)
        sock.sendall(request)
        status, headers, rest = read_head(sock)
        if status in (101, 200):  # 200: engines that stream without the Upgrade dance
            handed_over = True
            kind = TLSExecStream if isinstance(sock, ssl.SSLSocket) else ExecStream
            return kind(exec_id, sock, closer, rest)
        raw = _read_body(sock, headers, rest)
    except socket.timeout as exc:
        raise EngineTimeout(f"the engine at {host.raw} did not answer the exec start within "
                            f"{timeout:g} s", host=host.raw, seconds=timeout, method="POST",
                            path=path) from exc
    finally:
        if not handed_over:
            closer()
    text = raw.decode("utf-8", "replace").strip()
    try:
        answer = json.loads(text)
        if isinstance(answer, dict) and isinstance(answer.get("message"), str):
            text = answer["message"]
    except ValueError:
        pass
    raise from_status(status, text or f"HTTP {status}", method="POST", path=path)


__all__ = ["ExecStream", "TLSExecStream", "connect", "start", "tls_context", "read_head"]
