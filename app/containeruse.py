"""Which containers use what, from one container list (GET /containers/json
?all=1): the image each was made from, the volumes it mounts, the networks it
is attached to. The images, volumes and networks pages cross-link with it, so
each of them costs one container list, never an inspect per container. Pure;
no Flask."""

from __future__ import annotations

from dataclasses import dataclass, field

# States in which a container holds its network endpoints (the engine's
# `docker network inspect` lists it) and counts as active for `docker system df`.
LIVE_STATES = {"running", "paused", "restarting"}


def _user(c: dict, prefix: str, status: bool) -> dict:
    names = [n.lstrip("/") for n in (c.get("Names") or [])]
    name = next((n for n in names if "/" not in n), names[0] if names else "")
    cid = c.get("Id", "")
    user = {"id": cid, "short_id": cid[:12], "name": name or cid[:12],
            "state": c.get("State", ""), "live": c.get("State", "") in LIVE_STATES,
            "href": prefix + cid}
    if status:
        user["status"] = c.get("Status", "")
    return user


def key(containers: list[dict]) -> list:
    """What of a container list goes into Usage: a list's rows stay the same
    while this does (the Status text, "Up 3 minutes", moves on by itself)."""
    return [(c.get("Id"), c.get("State"), c.get("ImageID"), c.get("Names"), c.get("Mounts"),
             c.get("NetworkSettings")) for c in containers]


@dataclass
class Usage:
    """Containers by image ID, by volume name, by network ID (and name)."""

    images: dict[str, list[dict]] = field(default_factory=dict)
    volumes: dict[str, list[dict]] = field(default_factory=dict)
    networks: dict[str, list[dict]] = field(default_factory=dict)
    count: int = 0

    def of_image(self, image_id: str) -> list[dict]:
        return self.images.get(image_id, [])

    def of_volume(self, name: str) -> list[dict]:
        return self.volumes.get(name, [])

    def of_network(self, net_id: str, name: str = "") -> list[dict]:
        """The containers that name this network: attached ones (an endpoint,
        with their addresses) first, then stopped ones that would join it."""
        found = self.networks.get(net_id, []) + (self.networks.get("name:" + name, []) if name
                                                 else [])
        found.sort(key=lambda u: (not u["attached"], u["name"]))
        return found


def usage(containers: list[dict], prefix: str = "/containers/", status: bool = False) -> Usage:
    """Index one container list by what each container uses. `prefix`: the
    start of a container page's URL (the ID follows); `status`: keep each
    one's Status text (an item's page shows it; a list does not)."""
    u = Usage(count=len(containers))
    for c in containers:
        base = _user(c, prefix, status)
        image_id = c.get("ImageID") or ""
        if image_id:
            u.images.setdefault(image_id, []).append(base)
        for m in c.get("Mounts") or []:
            if m.get("Type") == "volume" and m.get("Name"):
                u.volumes.setdefault(m["Name"], []).append(
                    {**base, "destination": m.get("Destination", ""), "rw": bool(m.get("RW"))})
        for net_name, ep in ((c.get("NetworkSettings") or {}).get("Networks") or {}).items():
            ep = ep or {}
            entry = {**base, "network": net_name, "attached": bool(ep.get("EndpointID")),
                     "ip": _cidr(ep.get("IPAddress"), ep.get("IPPrefixLen")),
                     "ipv6": _cidr(ep.get("GlobalIPv6Address"), ep.get("GlobalIPv6PrefixLen")),
                     "mac": ep.get("MacAddress") or "", "gateway": ep.get("Gateway") or "",
                     "aliases": [a for a in (ep.get("Aliases") or []) if a]}
            # a container never started has no network ID yet: only the name
            u.networks.setdefault(ep.get("NetworkID") or "name:" + net_name, []).append(entry)
    for users in (*u.images.values(), *u.volumes.values(), *u.networks.values()):
        users.sort(key=lambda x: x["name"])
    return u


def _cidr(addr: str | None, prefix: int | None) -> str:
    if not addr:
        return ""
    return f"{addr}/{prefix}" if prefix else addr
