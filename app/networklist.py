"""The networks list and one network's page, apart from Flask: filters, the
Engine calls (GET /networks beside one container list, for the containers
attached to each network with their addresses), IPAM texts, and what
removing one will do. A network's page also asks each attached container's
inspect for its aliases there (the list does not carry them)."""

from __future__ import annotations

from dataclasses import dataclass

from .containeruse import key as containers_key, usage
from .display import time_texts
from .registry import Registry
from .fanout import EngineTrouble, gather, refused_filters, together
from .gateway import Engine, exceptions as ge
from .memo import Memo, answer_key, tick

# Networks every engine has, that it will not remove (nor prune).
PREDEFINED = {"bridge", "host", "none", "default"}
MAX_ALIAS_INSPECTS = 50


@dataclass
class Hrefs:
    network: str
    container: str


def list_filters(args, engines: list[str] | None = None) -> dict:
    engine = (args.get("engine") or "").strip()
    return {
        "q": (args.get("q") or "").strip()[:200],
        "driver": (args.get("driver") or "").strip()[:100],
        "label": (args.get("label") or "").strip()[:500],
        "engine": engine if engines and engine in engines else "",
    }


def query_string(f: dict) -> dict:
    return {k: f[k] for k in ("q", "driver", "label", "engine") if f.get(k)}


def engine_filters(f: dict) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    if f.get("q"):
        out["name"] = [f["q"]]
    for key in ("driver", "label"):
        if f.get(key):
            out[key] = [f[key]]
    return out


def ipam(net: dict) -> list[dict]:
    """Each IPAM pool: subnet, gateway, IP range."""
    out = []
    for c in ((net.get("IPAM") or {}).get("Config") or []):
        out.append({"subnet": c.get("Subnet") or "", "gateway": c.get("Gateway") or "",
                    "range": c.get("IPRange") or ""})
    return out


def is_predefined(net: dict) -> bool:
    return net.get("Name") in PREDEFINED


def present(net: dict, users: list[dict], hrefs: Hrefs) -> dict:
    nid = net.get("Id", "")
    created = net.get("Created") or ""
    rel, iso, exact = time_texts(created)
    attached = [u for u in users if u["attached"]]
    pools = ipam(net)
    # the gateway the engine reports for its pool, else the one attached containers see
    seen_gw = next((u["gateway"] for u in attached if u["gateway"]), "")
    return {
        "id": nid, "short_id": nid[:12], "name": net.get("Name", ""),
        "driver": net.get("Driver", ""), "scope": net.get("Scope", ""),
        "ipam": pools, "seen_gateway": seen_gw if not any(p["gateway"] for p in pools) else "",
        "ipv6": bool(net.get("EnableIPv6")), "internal": bool(net.get("Internal")),
        "attachable": bool(net.get("Attachable")), "ingress": bool(net.get("Ingress")),
        "labels": net.get("Labels") or {}, "options": net.get("Options") or {},
        "created": created, "created_rel": rel, "created_iso": iso, "created_exact": exact,
        "users": users, "attached": attached, "predefined": is_predefined(net),
        "href": hrefs.network + nid,
    }


_MEMO = Memo()


def _rows(nets: list[dict], containers: list[dict], hrefs: Hrefs,
          engine: str | None = None) -> list[dict]:
    """The rows of one engine's answers (made once while they stay the same)."""
    def make():
        use = usage(containers, hrefs.container)
        rows = [present(n, use.of_network(n.get("Id", ""), n.get("Name", "")), hrefs)
                for n in nets]
        for row in rows:
            if engine:
                row["engine"] = engine
        _sort(rows)
        return rows

    # the engine answers in no set order (Go maps): keyed in one
    nets = sorted(nets, key=lambda x: x.get("Id") or "")
    key = (*answer_key(nets, containers_key(containers)), hrefs.network, hrefs.container, engine, tick())
    return _MEMO.get(key, make)


def _sort(rows: list[dict]) -> None:
    rows.sort(key=lambda r: (r["predefined"], r["name"], r.get("engine", "")))


def fetch_rows(eng: Engine, f: dict, hrefs: Hrefs) -> tuple[list[dict], str]:
    filters = engine_filters(f) or None
    try:
        nets, containers = together(lambda: eng.networks(filters=filters),
                                    lambda: eng.containers(all=True))
    except ge.EngineError as exc:
        if not refused_filters(exc, filters):
            raise
        return [], exc.message
    return _rows(nets, containers, hrefs), ""


def fetch_combined(registry: Registry, f: dict, hrefs: dict[str, Hrefs],
                   budget: float) -> tuple[list[dict], list[EngineTrouble]]:
    entries = [e for e in registry if not f["engine"] or e.name == f["engine"]]
    filters = engine_filters(f) or None

    def ask(entry):
        eng = entry.engine
        return together(lambda: eng.networks(filters=filters, timeout=budget),
                        lambda: eng.containers(all=True, timeout=budget))

    values, trouble = gather(registry, entries, ("networks", f["q"], f["driver"], f["label"]),
                             ask, budget)
    rows: list[dict] = []
    for name, (nets, containers) in values:
        rows += _rows(nets, containers, hrefs[name], name)
    _sort(rows)
    return rows, trouble


def network_page(eng: Engine, ref: str, hrefs: Hrefs) -> dict:
    """GET /networks/{id} (first: a name that is no network goes no further),
    the container list, then each attached container's inspect, side by side,
    for its aliases on this network."""
    net = eng.inspect_network(ref)
    containers = eng.containers(all=True)
    row = present(net, usage(containers, hrefs.container).of_network(net.get("Id", ""),
                                                                      net.get("Name", "")),
                  hrefs)
    endpoints = net.get("Containers") or {}
    attached = [u for u in row["users"] if u["attached"]][:MAX_ALIAS_INSPECTS]

    def aliases(u):
        def ask():
            try:
                c = eng.inspect_container(u["id"])
            except ge.NotFound:  # gone since the list
                return None
            nets = (c.get("NetworkSettings") or {}).get("Networks") or {}
            for ep in nets.values():
                if (ep or {}).get("NetworkID") == net.get("Id"):
                    return [a for a in (ep.get("Aliases") or []) if a]
            return []
        return ask

    found = together(*[aliases(u) for u in attached]) if attached else []
    for u, al in zip(attached, found):
        u["aliases"] = al or []
        u["alias_known"] = al is not None
    # the engine's own view: endpoints of running containers (docker network inspect)
    listed = {u["id"] for u in row["users"]}
    others = [{"id": cid, "name": ep.get("Name") or cid[:12], "ip": ep.get("IPv4Address") or "",
               "ipv6": ep.get("IPv6Address") or "", "mac": ep.get("MacAddress") or ""}
              for cid, ep in endpoints.items() if cid not in listed]
    return {"net": net, "row": row, "endpoints": endpoints, "unlisted": others}


def remove_plan(row: dict) -> dict:
    """DELETE /networks/{id}: the engine refuses a predefined network and one
    with containers attached (running ones: they hold endpoints). A stopped
    container that names the network does not stop it; it fails to start later."""
    refused = ""
    if row["predefined"]:
        refused = f"{row['name']} is predefined: every engine has it, and will not remove it"
    elif row["attached"]:
        names = ", ".join(u["name"] for u in row["attached"][:3])
        refused = (f"{len(row['attached'])} running container"
                   f"{'s are' if len(row['attached']) != 1 else ' is'} attached ({names}"
                   f"{'…' if len(row['attached']) > 3 else ''}); disconnect or stop "
                   f"{'them' if len(row['attached']) != 1 else 'it'} first")
    stopped = [u for u in row["users"] if not u["attached"]]
    return {"refused": refused, "stopped": stopped}
