"""Volume rows: bind devices, sizes where known, what removing one will do."""

from app import volumelist as vl
from app.containeruse import usage
from app.diskusage import Known

H = vl.Hrefs("/volumes/", "/containers/")


def test_filters_map_to_the_engines():
    f = vl.list_filters({"q": "db", "used": "unused", "label": "a"})
    assert vl.engine_filters(f) == {"name": ["db"], "dangling": ["true"], "label": ["a"]}
    assert vl.engine_filters(vl.list_filters({"used": "used"})) == {"dangling": ["false"]}
    assert vl.list_filters({"used": "sometimes"})["used"] == ""


def test_a_bind_shows_its_host_folder_and_is_not_measured():
    v = {"Name": "b", "Driver": "local", "Options": {"type": "none", "o": "bind",
                                                      "device": "/srv/x"}}
    r = vl.present(v, [], H, Known(1, 1, {"b": 5}))
    assert r["device"] == "/srv/x" and r["bind"] and not r["measured"]
    assert vl.bind_device({"Driver": "other", "Options": {"device": "/x"}}) == ""


def test_size_from_the_engine_else_the_last_measurement():
    v = {"Name": "d", "Driver": "local", "Options": None}
    assert vl.present(v, [], H, None)["size"] is None
    r = vl.present(v, [], H, Known(1, 1, {"d": 77}))
    assert (r["size"], r["size_from"]) == (77, "disk")
    r = vl.present({**v, "UsageData": {"Size": 5, "RefCount": 0}}, [], H, None)
    assert (r["size"], r["size_from"]) == (5, "engine")


def test_removing_a_volume_in_use_is_refused_even_by_a_stopped_container():
    u = usage([{"Id": "a" * 64, "Names": ["/db"], "State": "exited",
                "Mounts": [{"Type": "volume", "Name": "d"}]}])
    r = vl.present({"Name": "d", "Driver": "local"}, u.of_volume("d"), H, None)
    assert "db" in vl.remove_plan(r)["refused"]
    assert vl.remove_plan(vl.present({"Name": "e", "Driver": "local"}, [], H, None))[
        "refused"] == ""
