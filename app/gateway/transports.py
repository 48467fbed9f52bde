"""How bytes reach an engine, below HTTP: requests adapters for a unix socket
and for ssh. TCP (plain or TLS) is requests' own.

ssh, as the docker CLI does it: the system's `ssh` client runs
`docker system dial-stdio` on the far host, which joins its stdin and stdout
to that host's Engine socket; HTTP/1.1 then goes over ssh's stdin and stdout.
Here ssh's stdin and stdout are one end of a socket pair, so http.client
reads and writes a real socket (timeouts, keep-alive and all). A small pool
of such connections is kept per engine: the ssh handshake is paid once per
connection, not per request. A connection whose ssh has exited is seen as
dropped by urllib3 and replaced. What ssh said on stderr (a host key that does
not match, a refused key, no docker on the far side) is kept, so the error
page can say it in ssh's own words.
"""

from __future__ import annotations

import socket
import subprocess
import tempfile
import threading

import requests
import requests_unixsocket
import urllib3


# -- unix socket -----------------------------------------------------------------------
class UnixPool(requests_unixsocket.adapters.UnixHTTPConnectionPool):
    def __init__(self, socket_url: str, maxsize: int):
        urllib3.HTTPConnectionPool.__init__(self, "localhost", maxsize=maxsize)
        self.socket_path = socket_url
        self.timeout = 60  # replaced per request by urllib3 (connect, then read timeout)


class UnixAdapter(requests_unixsocket.UnixAdapter):
    """One connection pool per socket. requests-unixsocket 0.4 keys its pools
    by the whole URL (path and query): every distinct path got a pool of its
    own, no connection was reused across paths, and past `pool_connections`
    pools the oldest was closed even while a request was still reading from it
    (AttributeError: 'NoneType' object has no attribute 'qsize', under load)."""

    def __init__(self, pool_size: int):
        super().__init__(pool_connections=8)
        self._pool_size = pool_size

    def get_connection(self, url, proxies=None):
        if proxies and proxies.get("http+unix"):
            raise ValueError("proxies are not supported on a unix socket")
        key = url.split("://", 1)[1].split("/", 1)[0]  # the percent-encoded socket path
        with self.pools.lock:
            pool = self.pools.get(key)
            if pool is None:
                pool = UnixPool("http+unix://" + key, self._pool_size)
                self.pools[key] = pool
        return pool


# -- ssh -----------------------------------------------------------------------------------
class SSHLog:
    """The last thing ssh said on stderr for one engine (shared by its connections)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.text = ""

    def set(self, text: str) -> None:
        text = " ".join(line.strip() for line in text.splitlines() if line.strip()
                        and not line.startswith("Warning: Permanently added"))
        if text:
            with self._lock:
                self.text = text[-1000:]

    def take(self) -> str:
        with self._lock:
            text, self.text = self.text, ""
        return text


class SSHProcess:
    """One `ssh ... docker system dial-stdio`, its stdin and stdout joined to
    a socket of ours."""

    def __init__(self, argv: list[str], log: SSHLog, timeout: float | None):
        mine, theirs = socket.socketpair()
        self._err = tempfile.TemporaryFile()
        self.log = log
        try:
            self.proc = subprocess.Popen(argv, stdin=theirs, stdout=theirs, stderr=self._err,
                                         start_new_session=True, close_fds=True)
        except OSError as exc:
            mine.close()
            self._err.close()
            raise ConnectionRefusedError(exc.errno, f"cannot run ssh: {exc.strerror}") from None
        finally:
            theirs.close()
        mine.settimeout(timeout)
        self.sock = mine

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass
        proc = self.proc
        if proc.poll() is None:
            try:
                proc.wait(0.3)  # dial-stdio ends by itself once its stdin closes
            except subprocess.TimeoutExpired:
                proc.terminate()
                try:
                    proc.wait(2)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        try:
            self._err.seek(0)
            said = self._err.read(8192).decode("utf-8", "replace")
            if proc.returncode not in (0, None, -15) or said.strip():
                self.log.set(said)
        finally:
            self._err.close()


class SSHConnection(urllib3.connection.HTTPConnection):
    def __init__(self, argv: list[str], log: SSHLog, timeout=60):
        super().__init__("localhost", timeout=timeout)
        self._argv = argv
        self._log = log
        self._ssh: SSHProcess | None = None

    def connect(self):
        timeout = self.timeout if isinstance(self.timeout, (int, float)) else None
        self._ssh = SSHProcess(self._argv, self._log, timeout)
        self.sock = self._ssh.sock

    def close(self):
        super().close()
        if self._ssh is not None:
            self._ssh.close()
            self._ssh = None


class SSHPool(urllib3.HTTPConnectionPool):
    def __init__(self, argv: list[str], log: SSHLog, maxsize: int):
        super().__init__("localhost", maxsize=maxsize)
        self._argv = argv
        self._log = log

    def _new_conn(self):
        return SSHConnection(self._argv, self._log, timeout=self.timeout.connect_timeout)


class SSHAdapter(requests.adapters.HTTPAdapter):
    """Every http+ssh:// URL of one engine goes through its one pool."""

    def __init__(self, argv: list[str], pool_size: int = 8):
        super().__init__()
        self.log = SSHLog()
        self.argv = argv
        self.pool = SSHPool(argv, self.log, pool_size)

    def get_connection_with_tls_context(self, request, verify, proxies=None, cert=None):
        return self.pool

    def get_connection(self, url, proxies=None):
        return self.pool

    def request_url(self, request, proxies):
        return request.path_url

    def close(self):
        self.pool.close()
        super().close()
