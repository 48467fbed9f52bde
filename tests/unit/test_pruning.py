"""The parts of pruning that need no engine: kinds and label filters (the
engine tests prune for real)."""

from app import pruning


def test_kinds_and_labels():
    assert set(pruning.KINDS) == {"images", "containers", "volumes", "networks", "build-cache"}
    assert pruning.label_filter("") == {}
    assert pruning.label_filter("a=b") == {"label": ["a=b"]}


def test_build_cache_without_a_measurement_says_so():
    p = pruning.plan("build-cache", eng=None, label="", hrefs={}, known=None)
    assert p.items == [] and p.bytes is None and "Disk page" in p.notes[0]


def test_build_cache_from_the_measurement():
    from app.diskusage import Known

    known = Known(5.0, 1.0, build_cache=[
        {"id": "b1", "short_id": "b1", "type": "regular", "size": 70, "in_use": True,
         "shared": False, "description": "", "last_used": "", "created": ""},
        {"id": "b2", "short_id": "b2", "type": "source.local", "size": 30, "in_use": False,
         "shared": False, "description": "local context", "last_used": "", "created": ""}])
    p = pruning.plan("build-cache", eng=None, label="", hrefs={}, known=known)
    assert p.keys == ["b2"] and p.bytes == 30 and [k["id"] for k in p.kept] == ["b1"]
    assert p.measured_at == 5.0
