"""Network rows: IPAM, attached containers, what removing one will do."""

from app import networklist as nl
from app.containeruse import usage

H = nl.Hrefs("/networks/", "/containers/")
NET = {"Id": "n1" * 32, "Name": "front", "Driver": "bridge", "Scope": "local",
       "IPAM": {"Config": [{"Subnet": "198.18.0.0/24"}]}, "Internal": True}


def test_ipam_and_the_gateway_containers_see():
    u = usage([{"Id": "a" * 64, "Names": ["/web"], "State": "running",
                "NetworkSettings": {"Networks": {"front": {
                    "NetworkID": NET["Id"], "EndpointID": "e", "IPAddress": "198.18.0.2",
                    "IPPrefixLen": 24, "Gateway": "198.18.0.1"}}}}])
    r = nl.present(NET, u.of_network(NET["Id"], "front"), H)
    assert r["ipam"] == [{"subnet": "198.18.0.0/24", "gateway": "", "range": ""}]
    assert r["seen_gateway"] == "198.18.0.1" and r["internal"]
    assert [a["name"] for a in r["attached"]] == ["web"]
    assert "attached" in nl.remove_plan(r)["refused"]
    with_gw = {**NET, "IPAM": {"Config": [{"Subnet": "198.18.0.0/24", "Gateway": "198.18.0.9"}]}}
    assert nl.present(with_gw, u.of_network(NET["Id"], "front"), H)["seen_gateway"] == ""


def test_predefined_networks_are_never_removed():
    r = nl.present({**NET, "Name": "host"}, [], H)
    assert r["predefined"] and "predefined" in nl.remove_plan(r)["refused"]
    assert nl.remove_plan(nl.present(NET, [], H))["refused"] == ""


def test_filters():
    f = nl.list_filters({"q": "fr", "driver": "bridge", "label": "a=b"})
    assert nl.engine_filters(f) == {"name": ["fr"], "driver": ["bridge"], "label": ["a=b"]}
