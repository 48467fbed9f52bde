"""The gateway's pure parts and its behaviour against forced faults."""

import hashlib
import http.server
import threading
from pathlib import Path

import pytest

from app.gateway import Engine, HostConfigError, calls, check_ref, exceptions as ge, parse_host
from app.gateway.client import MAX_API_VERSION
from faultkit import FakeEngine, UnixHTTPServer

ROOT = Path(__file__).resolve().parents[2]


def test_default_host_is_the_socket():
    h = parse_host(None, env={})
    assert h.scheme == "unix" and h.socket_path == "/var/run/docker.sock"
    assert h.base_url == "http+unix://%2Fvar%2Frun%2Fdocker.sock"


def test_tcp_host_and_default_ports():
    h = parse_host("tcp://127.0.0.1:2375", env={})
    assert h.base_url == "http://127.0.0.1:2375" and not h.encrypted
    assert parse_host("tcp://localhost", env={}).netloc == "localhost:2375"


def test_tls_needs_the_cert_files(tmp_path):
    with pytest.raises(HostConfigError, match="ca.pem"):
        parse_host("tcp://127.0.0.1:2376", env={"DOCKER_TLS_VERIFY": "1",
                                                "DOCKER_CERT_PATH": str(tmp_path)})
    for f in ("ca.pem", "cert.pem", "key.pem"):
        (tmp_path / f).write_text("x")
    h = parse_host("tcp://127.0.0.1:2376", env={"DOCKER_TLS_VERIFY": "1",
                                                "DOCKER_CERT_PATH": str(tmp_path)})
    assert h.scheme == "https" and h.ca_cert.endswith("ca.pem") and h.encrypted


@pytest.mark.parametrize("bad", ["ftp://x", "tcp://", "http://:2375", "tcp://host:port",
                                 "unix://", "gopher:///var/run/docker.sock"])
def test_bad_hosts_are_refused(bad):
    with pytest.raises(HostConfigError):
        parse_host(bad, env={})


def test_unix_relative_is_read_as_the_cli_reads_it():
    # unix://relative means the path /relative to the docker CLI too
    assert parse_host("unix://relative", env={}).socket_path == "/relative"


def test_curl_lines():
    h = parse_host("unix:///var/run/docker.sock", env={})
    assert h.curl("GET", "/v1.41/containers/json?all=1") == \
        "curl -s --unix-socket /var/run/docker.sock -G http://localhost/v1.41/containers/json " \
        "--data-urlencode all=1"
    line = h.curl("GET", "/v1.41/containers/json?filters=%7B%22label%22%3A%5B%22a%3Db%22%5D%7D")
    assert line.endswith("""--data-urlencode 'filters={"label":["a=b"]}'""")
    t = parse_host("tcp://127.0.0.1:2375", env={})
    line = t.curl("POST", "/v1.41/containers/create", '{"Image": "x"}')
    assert line.startswith("curl -s -X POST") and "'{\"Image\": \"x\"}'" in line
    # HEAD as -I (curl -X HEAD would wait for a body), e.g. a path's stat
    assert h.curl("HEAD", "/v1.41/containers/abc/archive?path=%2Fetc") == \
        "curl -s -I --unix-socket /var/run/docker.sock " \
        "'http://localhost/v1.41/containers/abc/archive?path=%2Fetc'"


@pytest.mark.parametrize("ref", ["../etc", "a/b", "%2f", "x" * 300, "a\x00b", "", "-rf", ".hidden",
                                 "a b", "<script>", "web\n"])
def test_check_ref_refuses_odd_refs(ref):
    with pytest.raises(ge.InvalidReference):
        check_ref(ref)


@pytest.mark.parametrize("ref", ["web", "/web", "my_app.1-x", "0123abcd", "a" * 64])
def test_check_ref_accepts_names_and_ids(ref):
    assert check_ref(ref) == ref.lstrip("/")


def test_htmx_is_the_recorded_version():
    data = (ROOT / "static/vendor/htmx/htmx.min.js").read_bytes()
    recorded = (ROOT / "static/vendor/htmx/VERSION.md").read_text()
    assert hashlib.sha256(data).hexdigest() in recorded
    assert "2.0.11" in recorded and (ROOT / "static/vendor/htmx/LICENSE").exists()


# --- a fake engine, for what the real one cannot be made to do ----------------
def fake_engine(tmp_path, api_version: str, min_version: str | None = None) -> FakeEngine:
    return FakeEngine(tmp_path / "fake.sock", {"/v": (200, "[]", "application/json")},
                      api_version=api_version, min_version=min_version)


def test_negotiates_down_to_the_engine(tmp_path):
    fake = fake_engine(tmp_path, "1.41")
    try:
        e = Engine(f"unix://{fake.path}")
        assert e.containers() == []
        assert fake.seen == ["GET /_ping", "GET /v1.41/containers/json"]
    finally:
        fake.close()


def test_caps_at_the_highest_known_version_like_docker_29(tmp_path):
    # Docker 29 speaks 1.52 and refuses clients below 1.44
    fake = fake_engine(tmp_path, "1.99", min_version="1.44")
    try:
        e = Engine(f"unix://{fake.path}")
        assert e.containers() == []
        assert e.api_version == MAX_API_VERSION == "1.52"
        assert fake.seen[-1] == "GET /v1.52/containers/json"
    finally:
        fake.close()


def test_records_each_call(tmp_path):
    fake = fake_engine(tmp_path, "1.44")
    try:
        e = Engine(f"unix://{fake.path}")
        with calls.record() as log:
            e.containers(all=True)
        assert [(c.method, c.path, c.status) for c in log] == [
            ("GET", "/_ping", 200), ("GET", "/v1.44/containers/json?all=1", 200)]
        assert all(c.ms >= 0 for c in log)
    finally:
        fake.close()


def test_missing_socket_is_unreachable_with_the_os_error(tmp_path):
    e = Engine(f"unix://{tmp_path}/nope.sock")
    with pytest.raises(ge.EngineUnreachable) as exc:
        e.ping()
    assert "No such file or directory" in exc.value.os_error


def test_refused_port_is_unreachable():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    with pytest.raises(ge.EngineUnreachable) as exc:
        Engine(f"tcp://127.0.0.1:{port}").ping()
    assert "refused" in exc.value.os_error.lower()


def test_pull_cut_off_mid_stream_is_a_typed_error(tmp_path):
    """The gateway lets no requests exception escape, also while a pull streams."""
    class H(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def address_string(self):
            return "fake"

        def do_GET(self):  # /_ping
            self.send_response(200)
            self.send_header("Api-Version", "1.41")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"OK")

        def do_POST(self):  # promises more than it sends, then hangs up
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.write(b'{"status":"Pulling from library/x"}\n')
            self.wfile.flush()
            self.close_connection = True

    srv = UnixHTTPServer(str(tmp_path / "fake.sock"), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        e = Engine(f"unix://{tmp_path}/fake.sock")
        with pytest.raises(ge.EngineError) as exc:
            list(e.pull("x", "latest"))
        assert "broke off" in exc.value.message
    finally:
        srv.shutdown()


# -- images, volumes, networks -------------------------------------------------
@pytest.mark.parametrize("ref", ["busybox", "busybox:1.36", "localhost:5000/team/app:v2",
                                 "app@sha256:" + "0" * 64, "sha256:" + "a" * 64, "abc123"])
def test_image_references_that_pass(ref):
    from app.gateway.client import check_image_ref

    assert check_image_ref(ref) == ref


@pytest.mark.parametrize("ref", ["", "../containers/json", "a/../../x", "a//b", ".hidden",
                                 "a b", "a?b", "a#b", "a%2Fb", "x" * 600, "a\nb"])
def test_image_references_refused_before_any_call(ref):
    from app.gateway.client import check_image_ref

    with pytest.raises(ge.InvalidReference) as e:
        check_image_ref(ref)
    assert e.value.what == "image reference"


def test_volume_and_network_names():
    from app.gateway.client import check_network, check_volume

    assert check_volume("data_1.x") == "data_1.x"
    for bad in ("", "..", "a/b", "-a", "a b"):
        with pytest.raises(ge.InvalidReference):
            check_volume(bad)
    assert check_network('<i>odd "name"') == '<i>odd "name"'
    for bad in ("", "a/b", "a\x00b", " ", "..", ".", ".x"):
        with pytest.raises(ge.InvalidReference):
            check_network(bad)


@pytest.mark.parametrize("status,message", [
    (409, 'conflict: unable to remove repository reference "a:1" (must force) - container '
          '0123456789ab is using its referenced image 0123456789ab'),
    (409, "conflict: unable to delete 0123456789ab (must be forced) - image is being used by "
          "stopped container 0123456789ab"),
    (409, "remove data: volume is in use - [0123]"),
    (403, "error while removing network: network n id 01 has active endpoints")])
def test_in_use_refusals_are_typed(status, message):
    e = ge.from_status(status, message)
    assert isinstance(e, ge.InUse) and isinstance(e, ge.Conflict)


def test_a_name_in_use_is_not_an_item_in_use():
    e = ge.from_status(409, 'Conflict. The container name "/x" is already in use by container '
                            '"0123456789ab0123"')
    assert isinstance(e, ge.NameInUse) and not isinstance(e, ge.InUse)


def test_api_differences_for_images_and_volumes(tmp_path):
    """An engine of API 1.42 or later is asked for shared sizes with the image
    list, and told to prune every unused volume (not only anonymous ones, its
    new default); 1.41 is asked neither (it knows neither)."""
    from urllib.parse import unquote

    for api, shared, everything in (("1.41", False, False), ("1.43", True, True)):
        fake = FakeEngine(tmp_path / f"f{api}.sock", {
            "/v": (200, '{"VolumesDeleted": [], "SpaceReclaimed": 0}', "application/json")},
            api_version=api)
        try:
            e = Engine(f"unix://{fake.path}")
            e.images()
            e.images(shared_size=True)
            e.prune_volumes({"label": ["a"]})
            seen = [unquote(s) for s in fake.seen]
            assert seen[1] == f"GET /v{api}/images/json"
            assert ("shared-size=1" in seen[2]) is shared
            assert seen[3].startswith(f"POST /v{api}/volumes/prune")
            assert ('"all":["true"]' in seen[3]) is everything and '"label":["a"]' in seen[3]
        finally:
            fake.close()
