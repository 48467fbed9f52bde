"""Compose projects for tests, made by Debian's docker-compose (1.29.2) against
the test engine: a compose file written per project (JSON, which is YAML too),
every service and the default network labelled periscope.test=<SESSION>, the
test image only (nothing is pulled), and `down` at the end, failures included.

`docker-compose ps` is the witness for what a project holds and its state."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

COMPOSE = shutil.which("docker-compose") or "/usr/bin/docker-compose"

# `docker-compose ps` (v1) states: Up, Up (healthy), Exit 0, Restarting, Paused
_STATE_RE = re.compile(r"\s(Up(?: \([a-z: ]+\))?|Exit -?\d+|Restarting|Paused)\s*(?:\s{2}|$)")


def available() -> bool:
    return Path(COMPOSE).exists()


class ComposeProject:
    def __init__(self, docker_host: str, name: str, services: dict, *, label: str,
                 session: str, image: str, volumes: dict | None = None):
        self.name = name
        self.dir = Path(tempfile.mkdtemp(prefix=f"pc-{name[-8:]}-"))
        self.file = self.dir / "compose.json"
        self.env = dict(os.environ, DOCKER_HOST=docker_host, COMPOSE_INTERACTIVE_NO_CLI="1")
        self.env.pop("COMPOSE_PROJECT_NAME", None)
        spec = {"version": "2.4", "services": {},
                "networks": {"default": {"labels": {label: session}}}}
        for svc, conf in services.items():
            conf = dict(conf)
            cmd = conf.get("command")
            if cmd is not None:  # plain shell in tests: Compose would interpolate a "$"
                conf["command"] = ([c.replace("$", "$$") for c in cmd] if isinstance(cmd, list)
                                   else cmd.replace("$", "$$"))
            conf.setdefault("image", image)
            conf["labels"] = {**conf.get("labels", {}), label: session}
            conf.setdefault("stop_grace_period", "1s")
            spec["services"][svc] = conf
        if volumes:
            spec["volumes"] = {k: {**v, "labels": {label: session}} for k, v in volumes.items()}
        self.spec = spec
        self.write()

    def write(self) -> None:
        self.file.write_text(json.dumps(self.spec, indent=1))

    def __call__(self, *args: str, check: bool = True, timeout: float = 120) -> str:
        proc = subprocess.run([COMPOSE, "-p", self.name, "-f", str(self.file), *args],
                              env=self.env, capture_output=True, timeout=timeout,
                              cwd=self.dir)
        if check and proc.returncode != 0:
            raise AssertionError(f"docker-compose {' '.join(args)} failed ({proc.returncode}):\n"
                                 f"{proc.stdout.decode(errors='replace')}\n"
                                 f"{proc.stderr.decode(errors='replace')}")
        return proc.stdout.decode("utf-8", "replace")

    def up(self, *extra: str) -> None:
        self("up", "-d", "--no-color", *extra)

    def ps(self) -> dict[str, str]:
        """name -> state as `docker-compose ps` says it (Up, Exit 0, ...)."""
        out: dict[str, str] = {}
        lines = self("ps").splitlines()
        for ln in lines[2:]:  # header, dashes
            if not ln.strip():
                continue
            name = ln.split()[0]
            m = _STATE_RE.search(ln[len(name):] + "  ")
            out[name] = m.group(1) if m else "?"
        return out

    def ids(self) -> list[str]:
        return self("ps", "-q").split()

    def down(self) -> None:
        self("down", "-v", "-t", "0", "--remove-orphans", check=False)
        shutil.rmtree(self.dir, ignore_errors=True)
