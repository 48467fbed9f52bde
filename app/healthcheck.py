"""The container's HEALTHCHECK: `python3 -m app.healthcheck`.

Asks GET /healthz on the address PERISCOPE_BIND names (0.0.0.0 and :: are
asked on loopback) and exits 0 on a 200 (the app serves and the engine
answers), 1 otherwise. Standard library only: slim images have no curl.
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.request

from .config import Settings


def url_for_bind(addr: str) -> str | None:
    if addr.startswith("unix:") or addr.startswith("fd:"):
        return None
    if addr.startswith("["):
        host, _, port = addr[1:].partition("]:")
    elif addr.count(":") == 1:
        host, _, port = addr.partition(":")
    else:
        host, port = addr, "8000"
    if host in ("", "0.0.0.0", "::", "localhost"):
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port or '8000'}/healthz"


def main() -> int:
    urls = [u for u in map(url_for_bind, Settings.from_env().bind) if u]
    if not urls:
        print("healthcheck: PERISCOPE_BIND names no TCP address to ask", file=sys.stderr)
        return 1
    try:
        with urllib.request.urlopen(urls[0], timeout=4) as resp:
            print(resp.read(300).decode("utf-8", "replace"))
            return 0 if resp.status == 200 else 1
    except urllib.error.HTTPError as exc:
        print(f"healthcheck: {urls[0]} answered {exc.code}: "
              f"{exc.read(300).decode('utf-8', 'replace')}", file=sys.stderr)
    except OSError as exc:
        print(f"healthcheck: {urls[0]}: {exc}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
