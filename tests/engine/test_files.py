"""A container's filesystem against the real engine, the docker CLI as the
witness: /changes equals `docker diff`, a file's download equals `docker cp`
byte for byte, a folder's tar holds what `docker cp`'s holds, on running and
stopped containers; hostile names, odd paths, the listing budget, and a
200 MB download with flat worker RSS."""

from __future__ import annotations

import hashlib
import html
import io
import re
import stat
import subprocess
import tarfile
import threading
import time
from pathlib import Path
from urllib.parse import quote, unquote

import pytest
import requests

from app import create_app
from conftest import LABEL, SESSION, make_settings, unique_name

# writes, changes and deletes files; links, a hard link, a FIFO, owners, modes
SCRIPT = r"""set -e
mkdir -p /data/sub/deeper /data/empty /data/owned
printf 'hello\n' > /data/hello.txt
head -c 300000 /dev/urandom > /data/random.bin
seq 1 5000 | sed 's/^/line /' > /data/lines.txt
yes "$(printf '%0099d' 0 | tr 0 t)" | head -c 2000000 > /data/two-mb.txt
seq 1 30000 > /data/many-lines.txt
: > /data/empty.txt
printf 'x%.0s' $(seq 1 40) > /data/sub/x.txt
printf 'deeper\n' > /data/sub/deeper/y.txt
chmod 4755 /data/random.bin
chmod 600 /data/hello.txt
chmod 1777 /data/empty
touch /data/owned/theirs && chown 1234:5678 /data/owned/theirs
ln -s /etc/passwd /data/abs-link
ln -s ../etc /data/rel-link
ln -s /nonexistent /data/dangling
ln /data/hello.txt /data/hard-link
mkfifo /data/fifo
echo 'changed:x:1:1::/:/bin/sh' >> /etc/passwd
rm /etc/group
mkdir -p /tmp/made && touch /tmp/made/new
"""

HOSTILE = r"""set -e
mkdir -p /h
touch '/h/<img src=x onerror=alert(1)>'
touch "/h/$(printf 'new\nline')"
ln "/h/$(printf 'new\nline')" /h/hard-to-newline
ln -s "$(printf 'new\nline')" /h/link-to-newline
touch "/h/$(printf 'rlo\342\200\256txt.exe')"
touch "/h/$(printf 'bad\377byte')"
touch "/h/$(printf '%0255d' 0 | tr 0 n)"
d=$(printf '%0200d' 0 | tr 0 d); p=/h/deep; for i in $(seq 1 19); do p=$p/$d; done
mkdir -p "$p" && printf 'at the bottom\n' > "$p/end.txt" && echo "$p/end.txt" > /h/deep-path
printf 'not\0text' > /h/nul.bin
printf 'x' > "/h/quote\"and'apostrophe; name.txt"
"""


def _ready_container(docker, test_image, script: str, *, stopped: bool) -> str:
    name = unique_name("fs")
    if stopped:
        cid = docker("run", "-d", "--name", name, "--label", f"{LABEL}={SESSION}", test_image,
                     "sh", "-c", script).strip()
        docker("wait", cid)
        state = docker.inspect(cid)["State"]
        assert state["ExitCode"] == 0, docker("logs", cid)
        return cid
    cid = docker("run", "-d", "--name", name, "--label", f"{LABEL}={SESSION}", test_image,
                 "sh", "-c", script + "\ntouch /ready\nexec sleep 600").strip()
    deadline = time.monotonic() + 30
    while docker.raw("exec", cid, "test", "-e", "/ready").returncode != 0:
        assert time.monotonic() < deadline, docker("logs", cid)
        assert docker.inspect(cid)["State"]["Running"], docker("logs", cid)
        time.sleep(0.1)
    return cid


@pytest.fixture(scope="module")
def fs(docker, test_image):
    """Two containers that ran SCRIPT: one still running, one stopped."""
    made = []
    try:
        made.append(_ready_container(docker, test_image, SCRIPT, stopped=False))
        made.append(_ready_container(docker, test_image, SCRIPT, stopped=True))
        yield {"running": made[0], "stopped": made[1]}
    finally:
        if made:
            docker("rm", "-f", *made, check=False)


@pytest.fixture(scope="module")
def hostile(docker, test_image):
    cid = _ready_container(docker, test_image, HOSTILE, stopped=True)
    try:
        yield cid
    finally:
        docker("rm", "-f", cid, check=False)


@pytest.fixture(scope="module")
def mclient():
    return create_app(make_settings()).test_client()


def cp_tar(docker, cid: str, path: str) -> bytes:
    out = docker.raw("cp", f"{cid}:{path}", "-")
    assert out.returncode == 0, out.stderr
    return out.stdout


def members(data: bytes) -> dict[str, tuple]:
    """name -> (type, mode, uid, gid, linkname, size, sha256 of content)."""
    out = {}
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:", errors="surrogateescape") as tf:
        for m in tf:
            body = tf.extractfile(m).read() if m.isreg() else b""
            out[m.name] = (m.type, m.mode, m.uid, m.gid, m.linkname, m.size if m.isreg() else 0,
                           hashlib.sha256(body).hexdigest())
    return out


def row_paths(text: str) -> list[str]:
    """The paths a listing's rows open (their first link), in page order."""
    body = text.split('<table class="files"', 1)[1].split("</table>", 1)[0]
    return [unquote(html.unescape(m), errors="surrogateescape")
            for m in re.findall(r'<td class="fname"><a class="fn" href="\?path=([^"]+)"', body)]


def row_modes(text: str) -> dict[str, str]:
    body = text.split('<table class="files"', 1)[1].split("</table>", 1)[0]
    return {unquote(html.unescape(p), errors="surrogateescape"): m for p, m in re.findall(
        r'<td class="fname"><a class="fn" href="\?path=([^"]+)".*?<td><code>([^<]+)</code>', body)}


WHICH = ["running", "stopped"]


# -- changes ----------------------------------------------------------------------------
@pytest.mark.parametrize("which", WHICH)
def test_changes_equal_docker_diff(mclient, docker, fs, which):
    cid = fs[which]
    witness = {tuple(line.split(" ", 1)) for line in docker("diff", cid).splitlines() if line}
    assert ("D", "/etc/group") in witness and ("C", "/etc/passwd") in witness
    r = mclient.get(f"/containers/{cid}/changes")
    assert r.status_code == 200
    text = r.get_data(as_text=True)
    shown = {({"added": "A", "changed": "C", "deleted": "D"}[k], html.unescape(p))
             for p, k in re.findall(r'data-path="([^"]*)" data-kind="([a-z]+)"', text)}
    assert shown == witness
    counts = re.search(r'id="change-counts">\s*<strong>(\d+)</strong>', text)
    assert int(counts.group(1)) == len(witness)
    # each change that is there links to the file browser; the deleted one does not
    assert f'href="/containers/{cid}/files?path=/data/hello.txt"' in text
    assert 'href="/containers/' + cid + '/files?path=/etc/group"' not in text
    # the filter: a part of a path, a mark
    t = mclient.get(f"/containers/{cid}/changes?q=HELLO").get_data(as_text=True)
    assert {p for p, k in re.findall(r'data-path="([^"]*)" data-kind="([a-z]*)"', t)} == \
        {"/data", "/data/hello.txt"}
    t = mclient.get(f"/containers/{cid}/changes?kind=deleted").get_data(as_text=True)
    assert re.findall(r'data-path="([^"]*)" data-kind="deleted"', t) == ["/etc/group"]


def test_changes_of_an_untouched_container_and_a_missing_one(mclient, run_container, docker):
    cid = run_container(["sleep", "300"])
    r = mclient.get(f"/containers/{cid}/changes")
    assert r.status_code == 200 and docker("diff", cid).strip() == ""
    assert "Nothing changed" in r.get_data(as_text=True)
    assert mclient.get("/containers/no-such-container-xyz/changes").status_code == 404


# -- downloads ---------------------------------------------------------------------------
def test_a_head_of_a_file_download_says_its_headers_and_closes_cleanly(mclient, fs):
    """HEAD reads no body: the answer's close must still end cleanly (found by
    a tester: a close on a plain iterator raised after the headers went out)."""
    cid = fs["running"]
    r = mclient.head(f"/containers/{cid}/files/download?path=/bin/busybox")
    assert r.status_code == 200 and r.data == b""
    assert r.headers["Content-Disposition"] == 'attachment; filename="busybox"'
    r.close()


@pytest.mark.parametrize("which", WHICH)
def test_file_download_equals_docker_cp(mclient, docker, fs, which):
    cid = fs[which]
    for path in ("/data/random.bin", "/data/lines.txt", "/etc/passwd", "/bin/busybox",
                 "/data/empty.txt", "/data/sub/deeper/y.txt"):
        r = mclient.get(f"/containers/{cid}/files/download?path={quote(path)}")
        assert r.status_code == 200, path
        # read it all first: the engine keeps the container locked while its
        # archive is being read (docker cp would wait for it)
        body = r.data
        with tarfile.open(fileobj=io.BytesIO(cp_tar(docker, cid, path))) as tf:
            m = tf.next()
            witness = tf.extractfile(m).read()
        assert body == witness, path
        assert int(r.headers["Content-Length"]) == len(witness)
        assert r.headers["Content-Disposition"] == f'attachment; filename="{path.rsplit("/", 1)[1]}"'
        assert r.mimetype == "application/octet-stream"
    # a symbolic link downloads what it leads to inside the container, as `docker cp -L`
    body = mclient.get(f"/containers/{cid}/files/download?path=/data/abs-link").data
    follow = docker.raw("cp", "-L", f"{cid}:/data/abs-link", "-").stdout
    with tarfile.open(fileobj=io.BytesIO(follow)) as tf:
        assert body == tf.extractfile(tf.next()).read()
    assert b"changed:x:1:1" in body


@pytest.mark.parametrize("which", WHICH)
def test_folder_tar_equals_docker_cp(mclient, docker, fs, which):
    cid = fs[which]
    for path in ("/data", "/"):
        r = mclient.get(f"/containers/{cid}/files/download?path={path}")
        assert r.status_code == 200 and r.mimetype == "application/x-tar"
        ours = members(r.data)
        witness = members(cp_tar(docker, cid, path))
        assert ours == witness, path
        assert len(ours) > 10
    assert 'filename="data.tar"' in mclient.get(
        f"/containers/{cid}/files/download?path=/data").headers["Content-Disposition"]
    root = mclient.get(f"/containers/{cid}/files/download?path=/").headers["Content-Disposition"]
    assert re.search(r'filename="fs-[\w-]+-root\.tar"', root)


# -- the listing -------------------------------------------------------------------------
@pytest.mark.parametrize("which", WHICH)
def test_listing_shows_what_docker_cp_holds(mclient, docker, fs, which):
    cid = fs[which]
    r = mclient.get(f"/containers/{cid}/files?path=/data")
    assert r.status_code == 200
    text = r.get_data(as_text=True)
    with tarfile.open(fileobj=io.BytesIO(cp_tar(docker, cid, "/data"))) as tf:
        direct = {}
        for m in tf.getmembers():
            rel = m.name[len("data/"):].rstrip("/")
            if rel and "/" not in rel:
                direct[rel] = m
    assert {"hello.txt", "sub", "abs-link", "fifo", "hard-link"} <= set(direct)
    paths = row_paths(text)
    assert sorted(paths) == sorted(f"/data/{n}" for n in direct)
    # folders first, then by name
    kinds = [direct[p.rsplit("/", 1)[1]].isdir() for p in paths]
    assert kinds == sorted(kinds, reverse=True)
    modes = row_modes(text)
    # hello.txt and hard-link are one file: the tar holds it once, the second name as a link
    assert modes["/data/random.bin"] == "-rwsr-xr-x" and modes["/data/hello.txt"] == "-rw-------"
    assert modes["/data/hard-link"] == "-rw-------"
    assert modes["/data/empty"] == "drwxrwxrwt" and modes["/data/abs-link"] == "lrwxrwxrwx"
    assert modes["/data/fifo"].startswith("p")
    for n, m in direct.items():
        assert modes[f"/data/{n}"][1:] == stat.filemode(m.mode)[1:], n
        if m.isreg():
            assert f'title="{m.size:,} bytes"' in text
    assert text.count('title="6 bytes"') == 2  # the file and its hard link
    # links: the text, and where they open
    assert 'href="?path=/etc/passwd" title="opens /etc/passwd">/etc/passwd</a>' in text
    assert 'href="?path=/etc" title="opens /etc">../etc</a>' in text
    assert 'hard link' in text and 'named pipe' in text
    # a folder's size and count of what is below it
    assert "<small class=\"muted\">3 items</small>" in text  # sub: x.txt, deeper/, deeper/y.txt
    # the owner from the tar header
    t = mclient.get(f"/containers/{cid}/files?path=/data/owned").get_data(as_text=True)
    assert "<td>1234:5678</td>" in t
    # the root
    t = mclient.get(f"/containers/{cid}").get_data(as_text=True)
    assert f'href="/containers/{cid}/files"' in t and f'href="/containers/{cid}/changes"' in t
    t = mclient.get(f"/containers/{cid}/files").get_data(as_text=True)
    assert {"/bin", "/etc", "/data", "/tmp"} <= set(row_paths(t))


@pytest.mark.parametrize("which", WHICH)
def test_a_file_page_shows_text_binary_links(mclient, fs, which):
    cid = fs[which]
    t = mclient.get(f"/containers/{cid}/files?path=/data/lines.txt").get_data(as_text=True)
    assert "5,000 lines" in t and t.count('<span class="ln">') == 5000
    assert '<span class="ln">line 1\n</span>' in t and '<span class="ln">line 5000\n</span>' in t
    t = mclient.get(f"/containers/{cid}/files?path=/data/two-mb.txt").get_data(as_text=True)
    assert 'id="file-cut"' in t and "Showing the first 1.0 MB of 1.9 MB" in t
    assert t.count('<span class="ln">') == 10486  # 1 MiB of 100-byte lines, the last cut
    t = mclient.get(f"/containers/{cid}/files?path=/data/many-lines.txt").get_data(as_text=True)
    assert "Showing the first 20,000 lines (" in t and t.count('<span class="ln">') == 20000
    t = mclient.get(f"/containers/{cid}/files?path=/bin/busybox").get_data(as_text=True)
    assert 'id="file-binary"' in t and 'id="hexdump"' in t and '<span class="ln">' not in t
    t = mclient.get(f"/containers/{cid}/files?path=/data/empty.txt").get_data(as_text=True)
    assert 'id="file-empty"' in t
    t = mclient.get(f"/containers/{cid}/files?path=/data/rel-link").get_data(as_text=True)
    assert 'id="link-open" href="/containers/' in t and "?path=/etc" in t and "a folder" in t
    t = mclient.get(f"/containers/{cid}/files?path=/data/dangling").get_data(as_text=True)
    assert 'id="link-dangling"' in t and "/nonexistent" in t
    t = mclient.get(f"/containers/{cid}/files?path=/data/fifo").get_data(as_text=True)
    assert "named pipe (FIFO)" in t and "no content" in t
    # a FIFO has no bytes to download: a clear 400
    r = mclient.get(f"/containers/{cid}/files/download?path=/data/fifo")
    assert r.status_code == 400 and "only files and folders" in r.get_data(as_text=True)


# -- hostile names and odd paths -----------------------------------------------------------
def test_hostile_names_are_shown_safely_and_open(mclient, docker, hostile, live_server):
    r = mclient.get(f"/containers/{hostile}/files?path=/h")
    assert r.status_code == 200
    text = r.get_data(as_text=True)
    assert "<img src=x" not in text and "&lt;img src=x onerror=alert(1)&gt;" in text
    assert "\u202e" not in text and "rlo<span class=\"esc\" title=\"right-to-left override\">\\u202E</span>txt.exe" in text
    assert 'new<span class="esc" title="line feed">\\n</span>line' in text
    assert 'bad<span class="esc" title="byte 0xFF, not UTF-8">\\xFF</span>byte' in text
    assert "n" * 255 in text
    paths = row_paths(text)
    assert "/h/bad\udcffbyte" in paths and "/h/new\nline" not in paths  # a newline cannot be asked for
    # a link to such a name: listed, shown, not linked (the row itself opens)
    assert "/h/hard-to-newline" in paths and "/h/link-to-newline" in paths
    assert "?path=/h/new" not in text
    r = mclient.get(f"/containers/{hostile}/files?path=/h/link-to-newline")
    assert r.status_code == 200 and "control character in it" in r.get_data(as_text=True)
    # a name that is not UTF-8 opens: its bytes went out and came back
    r = mclient.get(f"/containers/{hostile}/files?path=/h/bad%FFbyte")
    assert r.status_code == 200 and "This file is empty" in r.get_data(as_text=True)
    d = mclient.get(f"/containers/{hostile}/files/download?path=/h/bad%FFbyte")
    assert d.status_code == 200 and d.headers["Content-Disposition"] == 'attachment; filename="bad_byte"'
    # the right-to-left override never reaches a file name
    d = mclient.get(f"/containers/{hostile}/files/download?path=" + quote("/h/rlo\u202etxt.exe"))
    assert d.status_code == 200 and "%E2%80%AE" not in d.headers["Content-Disposition"]
    d = mclient.get(f"/containers/{hostile}/files/download?path=" +
                    quote("/h/quote\"and'apostrophe; name.txt"))
    assert d.data == b"x" and d.headers["Content-Disposition"] == \
        'attachment; filename="quote_and_apostrophe_name.txt"; filename*=UTF-8\'\'' \
        "quote%22and%27apostrophe%3B%20name.txt"
    # a 4,000-byte path (GNU/pax long names in the tar) lists, opens and downloads
    deep = docker.raw("cp", f"{hostile}:/h/deep-path", "-").stdout
    with tarfile.open(fileobj=io.BytesIO(deep)) as tf:
        deep_path = tf.extractfile(tf.next()).read().decode().strip()
    assert 3800 < len(deep_path) < 4096
    r = mclient.get(f"/containers/{hostile}/files?path={quote(deep_path)}")
    assert r.status_code == 200 and '<span class="ln">at the bottom\n</span>' in r.get_data(as_text=True)
    r = mclient.get(f"/containers/{hostile}/files?path={quote(deep_path.rsplit('/', 1)[0])}")
    assert row_paths(r.get_data(as_text=True)) == [deep_path]
    assert mclient.get(f"/containers/{hostile}/files/download?path={quote(deep_path)}").data == \
        b"at the bottom\n"
    # and under gunicorn, through an engine's URL: the request line is near 4 KiB
    r = requests.get(f"{live_server.url}/engines/default/containers/{hostile}/files/download"
                     f"?path={quote(deep_path)}", timeout=60)
    assert r.status_code == 200 and r.content == b"at the bottom\n"
    # the folder as a tar: the same long names as docker cp's
    ours = members(mclient.get(f"/containers/{hostile}/files/download?path=/h").data)
    assert ours == members(cp_tar(docker, hostile, "/h"))
    assert any(len(n) > 3800 for n in ours)
    # NUL inside: binary
    t = mclient.get(f"/containers/{hostile}/files?path=/h/nul.bin").get_data(as_text=True)
    assert "NUL byte (at byte 3)" in t


@pytest.mark.parametrize("q, status, words", [
    ("/a%00b", 400, "control character (U+0000)"), ("/a%0Ab", 400, "control character (U+000A)"),
    ("/%1B[31m", 400, "U+001B"), ("/" + "a" * 5000, 400, "5,001 bytes"),
    ("/no/such/thing", 404, "No such file or folder"),
    ("/data/hello.txt/more", 404, "a part of that path is a file, not a folder"),
])
def test_odd_paths_are_clear_pages(mclient, fs, q, status, words):
    cid = fs["running"]
    for route in ("files", "files/download"):
        r = mclient.get(f"/containers/{cid}/{route}?path={q}")
        assert r.status_code == status, (route, q)
        text = r.get_data(as_text=True)
        assert words in text and "Traceback" not in text


def test_paths_are_normalised_and_cannot_climb(mclient, fs):
    cid = fs["running"]
    want = mclient.get(f"/containers/{cid}/files/download?path=/etc/passwd").data
    for q in ("/../../../etc/passwd", "etc/passwd", "//etc//passwd", "/data/../etc/./passwd",
              "%2e%2e/%2e%2e/etc/passwd", "/data/rel-link/passwd"):
        r = mclient.get(f"/containers/{cid}/files/download?path={q}")
        assert r.status_code == 200 and r.data == want, q
    t = mclient.get(f"/containers/{cid}/files?path=/../..").get_data(as_text=True)
    assert 'value="/"' in t and "parent folder" not in t
    # a trailing slash is normalised away: the link itself, shown as a link
    t = mclient.get(f"/containers/{cid}/files?path=/data/rel-link/").get_data(as_text=True)
    assert 'id="link-open"' in t and "parent folder" not in t
    # a path through a link: the engine resolves it inside the container
    t = mclient.get(f"/containers/{cid}/files?path=/data/rel-link").get_data(as_text=True)
    assert 'href="/containers/' + cid + '/files?path=/etc"' in t
    assert mclient.get("/containers/no-such-container-xyz/files?path=/").status_code == 404
    assert mclient.get("/containers/%3Cx%3E/files").status_code == 400  # not a name or ID
    assert mclient.get(f"/engines/default/containers/{cid}/files?path=/data").status_code == 200


def test_everything_is_a_get_and_read_only_mode_allows_it(fs, docker):
    cid = fs["running"]
    before = set(docker("diff", cid).splitlines())
    app = create_app(make_settings(read_only=True))
    c = app.test_client()
    for url in (f"/containers/{cid}/files?path=/data", f"/containers/{cid}/changes",
                f"/containers/{cid}/files/download?path=/data/hello.txt",
                f"/containers/{cid}/files?path=/data/lines.txt"):
        assert c.get(url).status_code == 200, url
        assert c.post(url).status_code in (403, 405)
    r = c.head(f"/containers/{cid}/files/download?path=/data/random.bin")
    assert r.status_code == 200 and r.headers["Content-Length"] == "300000" and r.data == b""
    assert set(docker("diff", cid).splitlines()) == before  # nothing changed


# -- budgets and memory --------------------------------------------------------------------
def test_a_huge_folder_hits_the_listing_budget(docker, run_container):
    cid = run_container("mkdir -p /many && cd /many && for d in a b c; do mkdir $d; "
                        "for i in $(seq 1 600); do : > $d/f$i; done; done; "
                        "head -c 3000000 /dev/zero > /many/z.bin; touch /ready; sleep 600")
    deadline = time.monotonic() + 30
    while docker.raw("exec", cid, "test", "-e", "/ready").returncode != 0:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    c = create_app(make_settings(files_max_entries=1000)).test_client()
    t = c.get(f"/containers/{cid}/files?path=/many").get_data(as_text=True)
    assert 'data-stopped="entries"' in t and "stopped after reading 1,000 entries" in t
    assert row_paths(t) == ["/many/a", "/many/b"]  # c and z.bin lie beyond the budget
    assert "names after <code class=\"fn\">b</code> were not reached" in t
    assert ">600 items</small>" in t and ">398+ items</small>" in t  # b is cut: at least that many
    # the byte budget: z.bin's 3 MB lie beyond 1 MB
    c = create_app(make_settings(files_max_mb=1)).test_client()
    t = c.get(f"/containers/{cid}/files?path=/many").get_data(as_text=True)
    assert 'data-stopped="bytes"' in t and row_paths(t) == ["/many/a", "/many/b", "/many/c",
                                                          "/many/z.bin"]
    # within the default budget: all of it
    t = create_app(make_settings()).test_client().get(
        f"/containers/{cid}/files?path=/many").get_data(as_text=True)
    assert 'id="listing-cut"' not in t and len(row_paths(t)) == 4


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def test_a_200_mb_download_streams_with_flat_worker_memory(docker, run_container, start_server):
    import requests

    cid = run_container("mkdir /big && head -c 209715200 /dev/urandom > /big/blob && "
                        "touch /ready && sleep 600")
    deadline = time.monotonic() + 60
    while docker.raw("exec", cid, "test", "-e", "/ready").returncode != 0:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    srv = start_server({"PERISCOPE_WORKERS": "1", "PERISCOPE_THREADS": "4"})
    worker = int(Path(f"/proc/{srv.proc.pid}/task/{srv.proc.pid}/children").read_text().split()[0])
    requests.get(f"{srv.url}/containers/{cid}/files?path=/big", timeout=30).raise_for_status()
    # the witness, hashed as it streams
    cp = subprocess.Popen(["docker", "cp", f"{cid}:/big/blob", "-"], env=docker.env,
                          stdout=subprocess.PIPE)
    with tarfile.open(fileobj=cp.stdout, mode="r|") as tf:
        m = tf.next()
        f = tf.extractfile(m)
        want = hashlib.sha256()
        while chunk := f.read(1 << 20):
            want.update(chunk)
    cp.wait()
    for path, is_tar in (("/big/blob", False), ("/big", True)):
        before = _rss_kb(worker)
        peak = [before]
        done = threading.Event()

        def sample():
            while not done.is_set():
                peak[0] = max(peak[0], _rss_kb(worker))
                done.wait(0.01)

        t = threading.Thread(target=sample, daemon=True)
        t.start()
        got = hashlib.sha256()
        n = 0
        try:
            with requests.get(f"{srv.url}/containers/{cid}/files/download?path={path}",
                              stream=True, timeout=120) as r:
                r.raise_for_status()
                if not is_tar:
                    assert int(r.headers["Content-Length"]) == 209715200
                for chunk in r.iter_content(1 << 20):
                    n += len(chunk)
                    got.update(chunk)
        finally:
            done.set()
            t.join()
        grew = (peak[0] - before) / 1024
        assert grew < 20, f"{path}: the worker's RSS grew by {grew:.1f} MB"
        if not is_tar:
            assert n == 209715200 and got.hexdigest() == want.hexdigest()
        else:
            assert n > 209715200
