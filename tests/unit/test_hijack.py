"""app/gateway/hijack.py and the Engine's exec calls, against fakes on unix
sockets: the answer head, a refusal kept in the engine's words, a socket that
never answers, one that is missing, the stream's close waking a blocked
reader, and the console size sent with the start or by a resize after it as
the API version says. The real engines are in tests/engine/test_terminal.py."""

from __future__ import annotations

import json
import socket
import threading
import time

import pytest

from app.gateway import Engine, exceptions as ge, parse_host
from app.gateway.hijack import ExecStream, read_head
from faultkit import FakeEngine, StalledEngine, remove_tree, short_tmp

EID = "a" * 64


@pytest.fixture
def tmp():
    d = short_tmp()
    yield d
    remove_tree(d)


def engine_at(path, **kw) -> Engine:
    return Engine(parse_host(f"unix://{path}", env={}), connect_timeout=1, read_timeout=2, **kw)


class HijackingEngine:
    """Answers /_ping, and POST .../exec/{id}/start with 101 then echoes;
    records each request's line and body."""

    def __init__(self, path, api_version: str):
        self.seen: list[tuple[str, bytes]] = []
        self.api_version = api_version
        self.ls = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.ls.bind(str(path))
        self.ls.listen(8)
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.ls.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c: socket.socket):
        buf = b""
        with c:
            while True:
                while b"\r\n\r\n" not in buf:
                    chunk = c.recv(4096)
                    if not chunk:
                        return
                    buf += chunk
                head, _, buf = buf.partition(b"\r\n\r\n")
                line = head.split(b"\r\n")[0].decode()
                n = next((int(h.split(b":")[1]) for h in head.split(b"\r\n")
                          if h.lower().startswith(b"content-length:")), 0)
                while len(buf) < n:
                    buf += c.recv(4096)
                body, buf = buf[:n], buf[n:]
                self.seen.append((line, body))
                if line.endswith("/start HTTP/1.1") and b'"Detach": false' in body:
                    c.sendall(b"HTTP/1.1 101 UPGRADED\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n"
                              b"\r\nhello ")  # the stream's first bytes, in the head's packet
                    while True:
                        data = c.recv(4096)
                        if not data:
                            return
                        c.sendall(data)
                payload = b"OK"
                c.sendall(b"HTTP/1.1 200 OK\r\nApi-Version: " + self.api_version.encode() +
                          b"\r\nContent-Length: %d\r\n\r\n" % len(payload) + payload)

    def close(self):
        self.ls.close()


def test_read_head_keeps_what_came_after_it():
    a, b = socket.socketpair()
    with a, b:
        b.sendall(b"HTTP/1.1 101 UPGRADED\r\nUpgrade: tcp\r\nX-Odd:  v \r\n\r\nfirst bytes")
        status, headers, rest = read_head(a)
    assert (status, headers["upgrade"], headers["x-odd"], rest) == (101, "tcp", "v", b"first bytes")


def test_read_head_refuses_what_is_not_http():
    a, b = socket.socketpair()
    with a, b:
        b.sendall(b"SSH-2.0-OpenSSH\r\n\r\n")
        with pytest.raises(ge.EngineError, match="did not answer in HTTP"):
            read_head(a)


@pytest.mark.parametrize("api, in_body", [("1.41", False), ("1.43", True)])
def test_the_console_size_goes_where_the_api_takes_it(tmp, api, in_body):
    fake = HijackingEngine(tmp / "e.sock", api)
    try:
        eng = engine_at(tmp / "e.sock")
        with eng.exec_start(EID, console_size=(30, 100)) as stream:
            assert stream.recv() == b"hello "  # bytes that came with the 101 are not lost
            stream.send(b"abc")
            assert stream.recv() == b"abc"
        start = next(body for line, body in fake.seen if "/start" in line)
        assert json.loads(start).get("ConsoleSize") == ([30, 100] if in_body else None)
        resized = [line for line, _ in fake.seen if "/resize" in line]
        assert resized == ([] if in_body else [f"POST /v{api}/exec/{EID}/resize?h=30&w=100 HTTP/1.1"])
    finally:
        fake.close()


def test_a_refused_start_keeps_the_engines_words(tmp):
    fake = FakeEngine(tmp / "f.sock", {
        "/v1.41/exec/" + "b" * 64: (404, '{"message":"No such exec instance: bbb"}',
                                    "application/json"),
        "/v1.41/exec/" + "c" * 64: (409, '{"message":"Container 1234 is not running"}',
                                    "application/json")})
    try:
        eng = engine_at(tmp / "f.sock")
        with pytest.raises(ge.NotFound, match="No such exec instance"):
            eng.exec_start("b" * 64)
        with pytest.raises(ge.StateConflict, match="is not running"):
            eng.exec_start("c" * 64)
    finally:
        fake.close()


def test_a_stalled_or_missing_engine(tmp):
    stalled = StalledEngine(tmp / "s.sock")
    try:
        eng = engine_at(stalled.path)
        eng._api = "1.41"  # negotiated before: the start itself meets the silence
        with pytest.raises(ge.EngineTimeout, match="did not answer the exec start"):
            eng.exec_start(EID)
    finally:
        stalled.close()
    eng = engine_at(tmp / "missing.sock")
    eng._api = "1.41"
    with pytest.raises(ge.EngineUnreachable, match="No such file"):
        eng.exec_start(EID)


def test_exec_ids_are_checked_before_any_call(tmp):
    eng = engine_at(tmp / "none.sock")
    for bad in ("../containers/x", "a" * 63, "A" * 64, ""):
        with pytest.raises(ge.InvalidReference):
            eng.exec_inspect(bad)


def _state(t: threading.Thread) -> str:
    try:
        stat = open(f"/proc/self/task/{t.native_id}/stat").read()
    except OSError:
        return "?"
    return stat.rsplit(")", 1)[1].split()[0]


def test_close_wakes_a_reader_blocked_in_another_thread():
    a, b = socket.socketpair()
    stream = ExecStream(EID, a, a.close)
    got = []
    reader = threading.Thread(target=lambda: got.append(stream.recv()))
    reader.start()
    deadline = time.monotonic() + 5
    while _state(reader) != "S":  # asleep in recv()
        assert time.monotonic() < deadline and reader.is_alive()
        time.sleep(0.01)
    stream.close()
    reader.join(5)
    assert not reader.is_alive() and got == [b""]
    with pytest.raises(ge.EngineError, match="closed"):
        stream.send(b"x")
    b.close()


def test_tls_reads_and_writes_from_two_threads_stay_whole(tmp_path):
    """Keystrokes written while another thread reads the echo, over TLS, as
    the terminal does: every byte comes back, in order, and neither side
    starves the other under the stream's lock. (The race the lock guards
    against, an SSL read and write at once on one SSLSocket, is too rare to
    show on demand: this test passes without the lock too.)"""
    import ssl

    from app.gateway.hijack import TLSExecStream
    from private_engine import OPENSSL, make_certs

    if not OPENSSL:
        pytest.skip("openssl is not installed")
    make_certs(tmp_path)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(tmp_path / "server-cert.pem", tmp_path / "server-key.pem")
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(1)

    def echo():
        c, _ = ls.accept()
        with server_ctx.wrap_socket(c, server_side=True) as t:
            while True:
                data = t.recv(65536)
                if not data:
                    return
                t.sendall(data)

    threading.Thread(target=echo, daemon=True).start()
    ctx = ssl.create_default_context(cafile=str(tmp_path / "ca.pem"))
    raw = socket.create_connection(ls.getsockname())
    sock = ctx.wrap_socket(raw, server_hostname="127.0.0.1")
    stream = TLSExecStream(EID, sock, sock.close)
    sent = b"".join(bytes([97 + i % 26]) * (1 + i % 7) for i in range(3000))
    got = bytearray()

    def reader():
        while len(got) < len(sent):
            data = stream.recv()
            if not data:
                return
            got.extend(data)

    r = threading.Thread(target=reader)
    r.start()
    for i in range(0, len(sent), 5):
        stream.send(sent[i:i + 5])
    r.join(30)
    stream.close()
    ls.close()
    assert bytes(got) == sent
