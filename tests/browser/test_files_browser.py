"""The changes page and the file browser in real Chromium: from the container
page to a folder, into a file, back by the breadcrumb; hostile names run and
hide nothing; the filter; screenshots light and dark, wide and narrow."""

from __future__ import annotations

import io
import tarfile
import time
from pathlib import Path

import pytest

from conftest import screenshot

SCRIPT = r"""set -e
mkdir -p /srv/app/conf /srv/app/logs /srv/hostile
cat > /srv/app/conf/site.conf <<'EOF'
# a config file
server {
	listen 8080;
	root /srv/app/public;	# a tab before this comment
	location / { try_files $uri =404; }
}
EOF
seq 1 300 | sed 's/^/log line /' > /srv/app/logs/app.log
printf 'BIN\0' > /srv/app/blob.bin && head -c 4096 /dev/urandom >> /srv/app/blob.bin
ln -s conf/site.conf /srv/app/current.conf
touch '/srv/hostile/<img src=x onerror=alert(1)>'
touch "/srv/hostile/$(printf 'rlo\342\200\256gpj.exe')"
touch "/srv/hostile/$(printf 'new\nline')"
touch "/srv/hostile/$(printf '%0255d' 0 | tr 0 n)"
echo changed >> /etc/passwd
rm /etc/group
touch /ready
exec sleep 600
"""


@pytest.fixture
def box(run_container, docker):
    cid = run_container(SCRIPT)
    deadline = time.monotonic() + 30
    while docker.raw("exec", cid, "test", "-e", "/ready").returncode != 0:
        assert time.monotonic() < deadline, docker("logs", cid)
        time.sleep(0.1)
    return cid


def diff_lines(text: str) -> set[tuple[str, str]]:
    """`docker diff`'s lines; a name with a newline goes on over the next line."""
    out: list[list[str]] = []
    for line in text.split("\n"):
        if line[:3] in ("A /", "C /", "D /"):
            out.append(line.split(" ", 1))
        elif out and line:
            out[-1][1] += "\n" + line
    return {tuple(x) for x in out}


def shoot(page, name: str) -> None:
    """Light and dark at 1280 px, then light and dark at 390 px."""
    page.set_viewport_size({"width": 1280, "height": 900})
    page.emulate_media(color_scheme="light")
    screenshot(page, name)
    page.emulate_media(color_scheme="dark")
    screenshot(page, f"{name}-dark")
    page.set_viewport_size({"width": 390, "height": 800})
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), \
        f"{name}: the page scrolls sideways on a phone"
    screenshot(page, f"{name}-phone-dark")
    page.emulate_media(color_scheme="light")
    screenshot(page, f"{name}-phone")
    page.set_viewport_size({"width": 1280, "height": 900})


def test_browse_from_the_container_page_into_a_file_and_back(page, live_server, box, docker):
    page.goto(f"{live_server.url}/containers/{box}")
    page.click("a.button:text('Files')")
    page.wait_for_selector("table#files")
    assert page.locator("nav.fpath .here").inner_text() == "/"
    page.click("table#files a.fn:text-is('srv')")
    page.click("table#files a.fn:text-is('app')")
    page.wait_for_selector("nav.fpath .here:text-is('app')")
    names = page.eval_on_selector_all("table#files td.fname > a.fn:not(.target), table#files td.fname > span.fn",
                                      "els => els.map(e => e.textContent)")
    assert names == ["conf", "logs", "blob.bin", "current.conf"]  # folders first
    assert "link" in page.locator("tr.k-symlink").inner_text()
    shoot(page, "files-folder")
    # a row's download link (relative to the page) gives the file's bytes
    with page.expect_download() as got:
        page.click("table#files tr.k-file td.dl a")
    dl = got.value
    assert dl.suggested_filename == "blob.bin"
    with tarfile.open(fileobj=io.BytesIO(docker.raw("cp", f"{box}:/srv/app/blob.bin", "-").stdout)) as tf:
        assert Path(dl.path()).read_bytes() == tf.extractfile(tf.next()).read()
    # the folder's download: a tar named after it
    with page.expect_download() as got:
        page.click("a.button:text('Download folder (tar)')")
    assert got.value.suggested_filename == "app.tar"
    with tarfile.open(got.value.path()) as tf:
        assert "app/conf/site.conf" in tf.getnames()

    # a text file: line numbers from CSS, tabs kept, nothing run
    page.click("table#files a.fn:text-is('conf')")
    page.click("table#files a.fn:text-is('site.conf')")
    page.wait_for_selector("pre#file-text")
    lines = page.eval_on_selector_all("pre#file-text .ln", "els => els.map(e => e.textContent)")
    assert lines[0] == "# a config file\n" and "\troot /srv/app/public;\t# a tab" in lines[3]
    # the numbers are not part of the text (a copy takes the file only)
    assert page.eval_on_selector("pre#file-text .ln", "e => getComputedStyle(e, '::before').content") \
        == "counter(line)"
    shoot(page, "files-text")

    # the breadcrumb back up, then the go-to box
    page.click("nav.fpath a.fn:text-is('app')")
    page.wait_for_selector("nav.fpath .here:text-is('app')")
    page.fill("#goto-path", "/srv/app/../app/logs/./app.log")
    page.click("form.goto button")
    page.wait_for_selector("pre#file-text")
    assert page.input_value("#goto-path") == "/srv/app/logs/app.log"
    assert page.locator("pre#file-text .ln").count() == 300

    # a binary file: said so, a hex view, no text
    page.goto(f"{live_server.url}/containers/{box}/files?path=/srv/app/blob.bin")
    assert "NUL byte (at byte 3)" in page.inner_text("#file-binary")
    assert page.locator("pre#hexdump").is_visible() and page.locator("pre#file-text").count() == 0
    shoot(page, "files-binary")
    # the link page leads where the link does
    page.goto(f"{live_server.url}/containers/{box}/files?path=/srv/app/current.conf")
    page.click("#link-open")
    page.wait_for_selector("pre#file-text")
    assert page.url.endswith("path=/srv/app/conf/site.conf")

    assert page.console_errors == []
    # a bad path: a plain 400 page
    resp = page.goto(f"{live_server.url}/containers/{box}/files?path=/a%00b")
    assert resp.status == 400 and "control character" in page.inner_text("main")
    resp = page.goto(f"{live_server.url}/containers/{box}/files?path=/no/such")
    assert resp.status == 404 and "No such file or folder" in page.inner_text("main")
    shoot(page, "files-missing")


def test_hostile_names_run_nothing_and_hide_nothing(page, live_server, box):
    page.goto(f"{live_server.url}/containers/{box}/files?path=/srv/hostile")
    page.wait_for_selector("table#files")
    assert page.dialogs == []
    assert page.locator("table#files img, table#files script").count() == 0
    text = page.inner_text("table#files")
    assert "<img src=x onerror=alert(1)>" in text
    assert "\u202e" not in text and "rlo\\u202Egpj.exe" in text  # the override shown, not obeyed
    assert "new\\nline" in text
    # the newline name is listed but cannot be opened
    assert page.locator("table#files span.fn", has_text="new").count() == 1
    # a 255-byte name wraps inside the table
    assert page.evaluate("document.querySelector('table#files').scrollWidth <= "
                         "document.querySelector('.table-wrap').clientWidth + 1")
    shoot(page, "files-hostile")
    assert page.console_errors == []


def test_changes_page_tree_filter_and_links(page, live_server, box, docker):
    page.goto(f"{live_server.url}/containers/{box}")
    page.click("a.button:text('Changes')")
    page.wait_for_selector("ul#change-tree")
    witness = diff_lines(docker("diff", box))
    marks = page.eval_on_selector_all(
        "ul#change-tree li[data-kind]:not([data-kind=''])",
        "els => els.map(e => [e.querySelector('.mark').textContent, e.dataset.path])")
    assert {tuple(m) for m in marks} == witness
    assert page.inner_text("#change-counts strong") == str(len(witness))
    deleted = page.locator("ul#change-tree li[data-path='/etc/group'] .gone")
    assert deleted.count() == 1 and page.locator("ul#change-tree li[data-path='/etc/group'] a").count() == 0
    shoot(page, "changes")

    page.fill("#change-filters input[name=q]", "CONF")
    page.click("#change-filters button")
    page.wait_for_selector("#change-matched")
    shown = page.eval_on_selector_all("ul#change-tree li", "els => els.map(e => e.dataset.path)")
    assert "/srv/app/conf/site.conf" in shown and "/etc/passwd" not in shown
    assert page.locator("ul#change-tree li.ctx[data-path='/srv']").count() == 1  # context folder
    shoot(page, "changes-filtered")
    page.click("ul#change-tree a.fn:text-is('site.conf')")
    page.wait_for_selector("pre#file-text")
    assert page.console_errors == []
