"""app/web.py's row blocks, and the gateway's kept answers they stand on:
rows as they go on the wire (compact, ASCII), an answer byte for byte the
last one is the same object, and a list whose answer changed is made anew."""

import html
import json

from app import create_app
from app.config import Settings
from app.gateway import Engine, parse_host
from app.web import compact
from faultkit import FakeEngine

J = "application/json"


def test_compact_drops_indentation_and_keeps_every_character_as_a_reference():
    row = '<tr data-name="café">\n   <td>Remove…</td>\n   <td>a b</td> <td>x</td>\n</tr>\n'
    out = compact(row)
    assert out.isascii()
    assert out == '<tr data-name="caf&#233;"><td>Remove&#8230;</td><td>a b</td> <td>x</td></tr>'
    assert html.unescape(out) == html.unescape(row).replace("\n   ", "").strip().replace(
        "\n", "")


def _container(cid: str, name: str) -> dict:
    return {"Id": cid, "Names": ["/" + name], "Image": "img", "State": "exited",
            "Status": "Exited (0) 2 hours ago", "Created": 1_700_000_000, "Ports": [],
            "Labels": {}}


def test_an_unchanged_answer_is_kept_and_a_changed_one_is_made_anew(tmp_path):
    answer = [_container("a" * 64, "first"), _container("b" * 64, "zweite-Straße")]
    routes = {"/v1.41/containers/json": (200, lambda path: json.dumps(answer), J)}
    fake = FakeEngine(tmp_path / "e.sock", routes)
    try:
        eng = Engine(parse_host(f"unix://{fake.path}", {}))
        one, tag1 = eng.containers_tagged(all=True)
        two, tag2 = eng.containers_tagged(all=True)
        assert one is two and tag1 == tag2  # the same bytes: not decoded again
        s = Settings.from_env({"DOCKER_HOST": f"unix://{fake.path}"})
        s.secret_key, s.stats = "t", False
        c = create_app(s, engine=eng).test_client()
        page = c.get("/containers/rows?all=1").get_data(as_text=True)
        assert "zweite-Stra&#223;e" in page and "zweite-Straße" not in page
        assert page.count("<tr id=") == 2
        again = c.get("/containers/rows?all=1").get_data(as_text=True)
        assert again == page
        answer[0] = _container("c" * 64, "<b>third</b>")  # the engine's answer changes
        three, tag3 = eng.containers_tagged(all=True)
        assert three is not one and tag3 != tag1
        page = c.get("/containers/rows?all=1").get_data(as_text=True)
        assert "&lt;b&gt;third&lt;/b&gt;" in page and "<b>third" not in page
        assert 'data-id="' + "a" * 64 not in page and page.count("<tr id=") == 2
    finally:
        fake.close()


def test_block_cache_keeps_the_last_used_within_its_budget():
    from app.display import BlockCache

    b = BlockCache(budget=10)
    b.put(("a",), "aaaa", 4)
    b.put(("b",), "bbbb", 4)
    assert b.get(("a",)) == "aaaa"  # now the last used
    b.put(("c",), "cccc", 4)  # 12 > 10: the least recently used goes
    assert b.get(("b",)) is None and b.get(("a",)) == "aaaa" and b.get(("c",)) == "cccc"
    b.put(("huge",), "x" * 50, 50)  # bigger than the budget alone: kept, the rest goes
    assert b.get(("huge",)) and b.get(("a",)) is None and b.get(("c",)) is None
