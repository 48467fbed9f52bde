"""`docker system df` sums, from a canned GET /system/df answer (the engine
test compares the same with the docker CLI), and the kept measurement."""

from app import diskusage as du

DF = {
    "LayersSize": 10_000,
    "Images": [{"Id": "sha256:1", "RepoTags": ["a:1"], "Size": 6000, "SharedSize": 1000,
                "Containers": 1},
               {"Id": "sha256:2", "RepoTags": ["<none>:<none>"], "Size": 3000, "SharedSize": 1000,
                "Containers": 0}],
    "Containers": [{"Id": "c1", "Names": ["/up"], "State": "running", "SizeRw": 100},
                   {"Id": "c2", "Names": ["/down"], "State": "exited", "SizeRw": 40}],
    "Volumes": [{"Name": "v1", "UsageData": {"Size": 500, "RefCount": 1}},
                {"Name": "v2", "UsageData": {"Size": 300, "RefCount": 0}},
                {"Name": "v3", "UsageData": {"Size": -1, "RefCount": 0}}],
    "BuildCache": [{"ID": "b1", "Size": 70, "InUse": True, "Shared": False, "Type": "regular"},
                   {"ID": "b2", "Size": 30, "InUse": False, "Shared": False, "Type": "regular"},
                   {"ID": "b3", "Size": 99, "InUse": False, "Shared": True, "Type": "regular"}],
    "BuilderSize": 100,
}


def test_summary_counts_as_the_docker_cli():
    rows = {r["kind"]: r for r in du.summary(DF)}
    # images: reclaimable = layers - what active images hold alone
    assert rows["images"] == {**rows["images"], "total": 2, "active": 1, "size": 10_000,
                              "reclaimable": 5000, "pct": 50}
    assert (rows["containers"]["active"], rows["containers"]["size"],
            rows["containers"]["reclaimable"], rows["containers"]["pct"]) == (1, 140, 40, 28)
    assert (rows["volumes"]["total"], rows["volumes"]["active"], rows["volumes"]["size"],
            rows["volumes"]["reclaimable"]) == (3, 1, 800, 300)
    assert (rows["build-cache"]["size"], rows["build-cache"]["reclaimable"],
            rows["build-cache"]["pct"]) == (100, 30, None)


def test_an_empty_answer():
    rows = du.summary({})
    assert all(r["total"] == 0 and r["size"] == 0 for r in rows) and rows[0]["pct"] is None


def test_biggest_first():
    top = du.biggest(DF, {"image": "/i/", "container": "/c/", "volume": "/v/"}, n=1)
    assert [i["name"] for i in top["images"]] == ["a:1"] and top["images"][0]["unique"] == 5000
    assert top["containers"][0]["name"] == "up" and top["containers"][0]["href"] == "/c/c1"
    assert top["volumes"][0]["name"] == "v1" and top["build_cache"][0]["id"] == "b3"


def test_the_store_keeps_the_last_measurement_per_engine(tmp_path):
    store = du.DiskStore(tmp_path / "disk")
    assert store.recall("main") is None
    store.remember("main", du.Report(DF, at=123.0, ms=4.5))
    k = du.DiskStore(tmp_path / "disk").recall("main")  # another worker reads it
    assert (k.at, k.ms) == (123.0, 4.5)
    assert k.volumes == {"v1": 500, "v2": 300} and k.shared == {"sha256:1": 1000, "sha256:2": 1000}
    assert [b["id"] for b in k.build_cache] == ["b1", "b2", "b3"] and k.builder_size == 100
    assert du.DiskStore(tmp_path / "disk").recall("other") is None
    (tmp_path / "disk" / "bad.json").write_text("{nope")
    assert store.recall("bad") is None
    assert oct((tmp_path / "disk").stat().st_mode & 0o777) == "0o700"
