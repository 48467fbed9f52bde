"""What the images list shows and what removing an image will do, from canned
Engine answers (the engine tests check the same against a real engine)."""

from app import imagelist as il
from app.containeruse import usage
from app.diskusage import Known

H = il.Hrefs("/images/", "/containers/", "/images/remove?ref=")
IMG = {"Id": "sha256:" + "ab" * 32, "RepoTags": ["app:1", "app:latest"], "RepoDigests": None,
       "Size": 1000, "SharedSize": -1, "Created": 1700000000, "Labels": {"k": "v"}}
DANGLING = {"Id": "sha256:" + "cd" * 32, "RepoTags": ["<none>:<none>"],
            "RepoDigests": ["<none>@<none>"], "Size": 10, "SharedSize": -1, "Created": 1}


def user(name, state="running", image=IMG["Id"]):
    return {"Id": name * 8, "Names": [f"/{name}"], "State": state, "ImageID": image}


def test_filters_keep_only_known_values():
    f = il.list_filters({"reference": " app* ", "dangling": "MAYBE", "label": "a=b",
                         "engine": "x"}, ["y"])
    assert f == {"reference": "app*", "dangling": "", "label": "a=b", "engine": ""}
    assert il.engine_filters(il.list_filters({"dangling": "true"})) == {"dangling": ["true"]}
    assert il.query_string(il.list_filters({"label": "a"})) == {"label": "a"}


def test_a_row_holds_every_tag_and_the_containers_made_from_it():
    u = usage([user("web"), user("old", "exited"), user("other", image="sha256:ff")])
    r = il.present(IMG, u.of_image(IMG["Id"]), H)
    assert r["tags"] == ["app:1", "app:latest"] and not r["dangling"]
    assert [x["name"] for x in r["users"]] == ["old", "web"] and r["live_users"] == 1
    assert r["short_id"] == "ab" * 6 and r["href"] == "/images/" + IMG["Id"]
    assert r["remove_href"] == "/images/remove?ref=" + IMG["Id"]
    assert r["shared"] is None and r["unique"] is None and r["shared_from"] is None
    d = il.present(DANGLING, [], H)
    assert d["dangling"] and d["tags"] == [] and d["digests"] == []


def test_shared_size_from_the_engine_else_from_the_last_measurement():
    r = il.present({**IMG, "SharedSize": 400}, [], H)
    assert (r["shared"], r["unique"], r["shared_from"]) == (400, 600, "engine")
    known = Known(at=1.0, ms=1.0, shared={IMG["Id"]: 250})
    r = il.present(IMG, [], H, known)
    assert (r["shared"], r["unique"], r["shared_from"]) == (250, 750, "disk")


def test_untagging_one_of_several_names_keeps_the_image():
    p = il.remove_plan(IMG, "app:1", [])
    assert p["untag"] == ["app:1"] and not p["delete"] and p["stays"] == ["app:latest"]
    # "app" means app:latest, as the engine reads it
    p = il.remove_plan(IMG, "app", [])
    assert p["untag"] == ["app:latest"] and p["stays"] == ["app:1"]


def test_the_last_name_deletes_the_image_unless_a_container_uses_it():
    one = {**IMG, "RepoTags": ["solo:v1"]}
    p = il.remove_plan(one, "solo:v1", [])
    assert p["untag"] == ["solo:v1"] and p["delete"] and not p["refused"]
    u = usage([user("db", "exited", one["Id"])]).of_image(one["Id"])
    p = il.remove_plan(one, "solo:v1", u)
    assert "needs force" in p["refused"] and p["force_helps"] and not p["delete"]


def test_by_id():
    assert il.by_id(IMG, IMG["Id"]) and il.by_id(IMG, "abab") and not il.by_id(IMG, "app:1")
    p = il.remove_plan(IMG, IMG["Id"], [])
    assert "2 names" in p["refused"] and p["force_helps"]
    p = il.remove_plan(DANGLING, DANGLING["Id"], [])
    assert p["delete"] and p["untag"] == [] and not p["refused"]
    live = usage([user("web", image=DANGLING["Id"])]).of_image(DANGLING["Id"])
    p = il.remove_plan(DANGLING, DANGLING["Id"], live)
    assert "even when forced" in p["refused"] and not p["force_helps"]


def test_familiar_names():
    assert il.familiar("busybox") == "busybox:latest"
    assert il.familiar("localhost:5000/app") == "localhost:5000/app:latest"
    assert il.familiar("localhost:5000/app:2") == "localhost:5000/app:2"
    assert il.familiar("app@sha256:00") == "app@sha256:00"


def test_history_rows():
    h = il.history_rows([{"Id": "<missing>", "CreatedBy": "/bin/sh -c #(nop) CMD [\"sh\"]",
                          "Size": 0, "Created": 5}, {"Id": IMG["Id"], "Size": 9, "Tags": ["a:1"]}])
    assert h[0]["short_id"] == "" and h[0]["empty"] and "CMD" in h[0]["created_by"]
    assert h[1]["short_id"] == "ab" * 6 and h[1]["tags"] == ["a:1"] and not h[1]["empty"]


def test_removed_summary():
    s = il.removed_summary([{"Untagged": "a:1"}, {"Deleted": "sha256:1"}, {"Deleted": "sha256:2"}])
    assert s == {"untagged": ["a:1"], "deleted": ["sha256:1", "sha256:2"]}


def test_removed_message():
    assert il.removed_message("a:1", [{"Untagged": "a:1"}]) == "Removed a:1: untagged a:1."
    m = il.removed_message("x", [{"Untagged": "x:latest"}, {"Deleted": "sha256:" + "1" * 64}])
    assert m == ("Removed x: untagged x:latest; deleted " + "1" * 12
                 + " (the image, and its layers no other image uses).")
    assert il.removed_message("y", []) == "y: nothing removed."
