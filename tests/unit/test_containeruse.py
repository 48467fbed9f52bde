"""Which containers use what, from one container list."""

from app.containeruse import usage

LIST = [
    {"Id": "a" * 64, "Names": ["/web", "/other/web"], "State": "running", "ImageID": "sha256:1",
     "Mounts": [{"Type": "volume", "Name": "data", "Destination": "/d", "RW": True},
                {"Type": "bind", "Source": "/srv", "Destination": "/srv"}],
     "NetworkSettings": {"Networks": {"front": {"NetworkID": "n1", "EndpointID": "e1",
                                                "IPAddress": "198.18.0.2", "IPPrefixLen": 24,
                                                "Gateway": "198.18.0.1", "MacAddress": "m"}}}},
    {"Id": "b" * 64, "Names": ["/old"], "State": "exited", "ImageID": "sha256:1",
     "Mounts": [{"Type": "volume", "Name": "data", "Destination": "/d", "RW": False}],
     "NetworkSettings": {"Networks": {"front": {"NetworkID": "n1", "EndpointID": ""}}}},
    {"Id": "c" * 64, "Names": ["/fresh"], "State": "created", "ImageID": "sha256:2",
     "NetworkSettings": {"Networks": {"front": {"NetworkID": "", "EndpointID": ""}}}},
]


def test_images_volumes_networks_from_one_list():
    u = usage(LIST, "/engines/x/containers/")
    assert [c["name"] for c in u.of_image("sha256:1")] == ["old", "web"]
    assert u.of_image("sha256:1")[1]["href"] == "/engines/x/containers/" + "a" * 64
    vols = u.of_volume("data")
    assert [(v["name"], v["rw"], v["live"]) for v in vols] == [("old", False, False),
                                                               ("web", True, True)]
    assert u.of_volume("nothing") == []
    net = u.of_network("n1", "front")
    # attached ones first; a container never started is found by the network's name
    assert [(n["name"], n["attached"]) for n in net] == [("web", True), ("fresh", False),
                                                         ("old", False)]
    assert net[0]["ip"] == "198.18.0.2/24" and net[0]["gateway"] == "198.18.0.1"
    assert u.count == 3
