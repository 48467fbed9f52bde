"""A container manifest (the JSON body of POST /containers/create), checked
before any Engine call, and the equivalent command lines.

Pure: no Flask, no Engine. `parse()` returns the manifest and a list of
problems, each naming where it is (line and column for JSON syntax, the field
for a type error) so the form can show it beside the user's text, kept as typed.

The Engine decodes JSON with Go's encoding/json, which matches keys without
regard to case ("image" sets Image). Fields are read here the same way, and a
manifest that names one field twice (in any case) is refused: which of the two
the engine would take is not something a user should have to guess.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from typing import Any

MAX_BYTES = 256 * 1024
NAME_RE = re.compile(r"^/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$")
ENV_RE = re.compile(r"^[^=\s][^=]*=", re.S)


@dataclass(frozen=True)
class Problem:
    message: str
    field: str | None = None  # "Env[2]", "HostConfig", "name"; None for syntax
    line: int | None = None
    column: int | None = None
    line_text: str | None = None  # the offending line, as typed

    @property
    def where(self) -> str:
        parts = []
        if self.field:
            parts.append(self.field)
        if self.line:
            parts.append(f"line {self.line}" + (f", column {self.column}" if self.column else ""))
        return " · ".join(parts)

    @property
    def caret(self) -> str:
        """Spaces (tabs kept) up to the column, then ^: printed under line_text."""
        if not self.column or self.line_text is None:
            return ""
        head = self.line_text[: self.column - 1]
        return "".join("\t" if ch == "\t" else " " for ch in head) + "^"


class _DuplicateKey(ValueError):
    def __init__(self, key: str, other: str):
        super().__init__(key)
        self.key, self.other = key, other


def fold(key: str) -> str:
    """A key as Go's encoding/json compares it (case-insensitively; casefold
    also maps the long s and the Kelvin sign as Go does)."""
    return key.casefold()


def get(obj: Any, key: str, default: Any = None) -> Any:
    """obj[key] the way the Engine reads it: the key in any case."""
    if not isinstance(obj, dict):
        return default
    if key in obj:
        return obj[key]
    want = fold(key)
    for k, v in obj.items():
        if fold(k) == want:
            return v
    return default


def has(obj: Any, key: str) -> bool:
    marker = object()
    return get(obj, key, marker) is not marker


def _pairs(pairs: list[tuple[str, Any]]) -> dict:
    out: dict[str, Any] = {}
    seen: dict[str, str] = {}
    for k, v in pairs:
        f = fold(k)
        if f in seen:
            raise _DuplicateKey(k, seen[f])
        seen[f] = k
        out[k] = v
    return out


def _no_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def _line_of(text: str, lineno: int) -> str:
    lines = text.splitlines()
    if 1 <= lineno <= len(lines):
        return lines[lineno - 1]
    return ""


def _locate_key(text: str, key: str) -> tuple[int | None, str | None]:
    """The line where `"key":` first appears (any case), for pointing at a field."""
    m = re.search(r'"' + re.escape(key) + r'"\s*:', text, re.I)
    if not m:
        return None, None
    lineno = text.count("\n", 0, m.start()) + 1
    return lineno, _line_of(text, lineno)


def _syntax_problem(text: str, exc: json.JSONDecodeError) -> Problem:
    msg = exc.msg
    line, col = exc.lineno, exc.colno
    if exc.pos >= len(text.rstrip()):
        # The fault is the end itself: point at the last line that has text.
        stripped = text.rstrip()
        line = stripped.count("\n") + 1
        col = len(_line_of(text, line)) + 1
        return Problem("JSON syntax error: the manifest ends too early (a closing } or ] "
                       f"missing, or a trailing comma?). The parser said: {msg}", None, line,
                       col, _line_of(text, line))
    if msg == "Extra data":
        msg = "extra text after the end of the JSON object"
    return Problem(f"JSON syntax error: {msg}", None, line, col, _line_of(text, line))


def parse(text: str) -> tuple[dict | None, list[Problem]]:
    """The manifest as a dict (when it is one) and every problem found."""
    if text is None or not text.strip():
        return None, [Problem("The manifest is empty: write a JSON object with at least an "
                              "\"Image\".")]
    size = len(text.encode("utf-8"))
    if size > MAX_BYTES:
        return None, [Problem(f"The manifest is {size:,} bytes; the limit is {MAX_BYTES:,} bytes "
                              "(256 KiB).")]
    try:
        value = json.loads(text, object_pairs_hook=_pairs, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        return None, [_syntax_problem(text, exc)]
    except _DuplicateKey as exc:
        line, line_text = _locate_key(text, exc.key)
        same = exc.key == exc.other
        why = ("appears twice" if same else f"and \"{exc.other}\" are the same field to the "
               "engine, which ignores case in field names")
        return None, [Problem(f"\"{exc.key}\" {why}: keep one.", exc.key, line, None, line_text)]
    except ValueError as exc:  # NaN, Infinity
        return None, [Problem(f"JSON syntax error: {exc}")]
    except RecursionError:
        return None, [Problem("The manifest nests too deeply.")]
    if not isinstance(value, dict):
        kind = {list: "a list", str: "a string", int: "a number", float: "a number",
                bool: "true or false", type(None): "null"}.get(type(value), "not an object")
        return None, [Problem(f"The manifest must be a JSON object ({{ ... }}), not {kind}.",
                              None, 1, 1, _line_of(text, 1))]
    return value, check(value, text)


def _is_str_list(v: Any) -> bool:
    return isinstance(v, list) and all(isinstance(x, str) for x in v)


def _type_name(v: Any) -> str:
    return {list: "a list", dict: "an object", str: "a string", int: "a number",
            float: "a number", bool: "true/false", type(None): "null"}.get(type(v), type(v).__name__)


def check(m: dict, text: str = "") -> list[Problem]:
    """Type checks on the well-known fields."""
    problems: list[Problem] = []

    def add(field: str, message: str, key: str | None = None) -> None:
        line, line_text = _locate_key(text, key or field) if text else (None, None)
        problems.append(Problem(message, field, line, None, line_text))

    image = get(m, "Image")
    if image is None:
        problems.append(Problem("\"Image\" is missing: say which image to run, e.g. "
                                "\"Image\": \"busybox\".", "Image"))
    elif not isinstance(image, str):
        add("Image", f"\"Image\" must be a string, not {_type_name(image)}.")
    elif not image.strip():
        add("Image", "\"Image\" is empty.")
    elif image != image.strip() or any(c.isspace() for c in image):
        add("Image", "\"Image\" must not contain spaces.")

    for key in ("Cmd", "Entrypoint"):
        if has(m, key):
            v = get(m, key)
            if v is not None and not (isinstance(v, str) or _is_str_list(v)):
                add(key, f"\"{key}\" must be a string or a list of strings, not "
                         f"{_type_name(v)}." if not isinstance(v, list) else
                         f"\"{key}\" must be a list of strings: item "
                         f"{next(i for i, x in enumerate(v) if not isinstance(x, str))} is "
                         f"{_type_name(next(x for x in v if not isinstance(x, str)))}.")

    if has(m, "Env"):
        env = get(m, "Env")
        if env is not None and not isinstance(env, list):
            add("Env", f"\"Env\" must be a list of \"KEY=value\" strings, not {_type_name(env)}.")
        elif env:
            for i, item in enumerate(env):
                if not isinstance(item, str):
                    add(f"Env[{i}]", f"Env item {i} must be a \"KEY=value\" string, not "
                                     f"{_type_name(item)}.", "Env")
                elif not ENV_RE.match(item):
                    add(f"Env[{i}]", f"Env item {i} ({item[:60]!r}) is not \"KEY=value\".", "Env")

    if has(m, "Labels"):
        labels = get(m, "Labels")
        if labels is not None and not isinstance(labels, dict):
            add("Labels", f"\"Labels\" must be an object of strings, not {_type_name(labels)}.")
        elif labels:
            for k, v in labels.items():
                if not isinstance(v, str):
                    add(f"Labels.{k}", f"Label {k!r} must have a string value, not "
                                       f"{_type_name(v)} (write it in quotes).", "Labels")

    for key in ("ExposedPorts", "HostConfig", "Volumes", "NetworkingConfig", "Healthcheck"):
        if has(m, key):
            v = get(m, key)
            if v is not None and not isinstance(v, dict):
                add(key, f"\"{key}\" must be an object ({{ ... }}), not {_type_name(v)}.")

    for key in ("Tty", "OpenStdin", "AttachStdin", "AttachStdout", "AttachStderr",
                "NetworkDisabled"):
        v = get(m, key)
        if v is not None and not isinstance(v, bool):
            add(key, f"\"{key}\" must be true or false, not {_type_name(v)}.")

    for key in ("WorkingDir", "User", "Hostname", "Domainname", "StopSignal"):
        v = get(m, key)
        if v is not None and not isinstance(v, str):
            add(key, f"\"{key}\" must be a string, not {_type_name(v)}.")
    return problems


def check_name(name: str | None) -> Problem | None:
    """The engine's rule for container names; an empty name is fine (the engine picks one)."""
    if not name:
        return None
    if len(name) > 255:
        return Problem("The name is too long (255 characters at most).", "name")
    if not NAME_RE.match(name):
        return Problem("A container name is two or more letters, digits, '_', '.' or '-', "
                       "starting with a letter or digit.", "name")
    return None


# -- the equivalent command lines ---------------------------------------------------

def _q(s: Any) -> str:
    return shlex.quote(str(s))


def _argv(v: Any) -> list[str]:
    if v is None:
        return []
    return [v] if isinstance(v, str) else [str(x) for x in v]


def docker_run(m: dict, name: str | None = None, start: bool = True) -> tuple[str, list[str]]:
    """The docker CLI line for this manifest, and the fields it cannot express."""
    out = ["docker", "run", "-d"] if start else ["docker", "create"]
    left: list[str] = []
    if name:
        out += ["--name", name.lstrip("/")]
    simple = {"Tty": "-t", "OpenStdin": "-i"}
    for key, flag in simple.items():
        if get(m, key) is True:
            out.append(flag)
    for key, flag in (("User", "-u"), ("WorkingDir", "-w"), ("Hostname", "-h"),
                      ("Domainname", "--domainname"), ("StopSignal", "--stop-signal"),
                      ("StopTimeout", "--stop-timeout"), ("MacAddress", "--mac-address")):
        v = get(m, key)
        if v not in (None, ""):
            out += [flag, str(v)]
    for e in get(m, "Env") or []:
        out += ["-e", e]
    for k, v in sorted((get(m, "Labels") or {}).items()):
        out += ["--label", f"{k}={v}"]
    for p in sorted(get(m, "ExposedPorts") or {}):
        out += ["--expose", p]
    for v in sorted(get(m, "Volumes") or {}):
        out += ["-v", v]
    hc = get(m, "HostConfig") or {}
    handled = set()
    for key, flag in (("Binds", "-v"), ("CapAdd", "--cap-add"), ("CapDrop", "--cap-drop"),
                      ("Dns", "--dns"), ("ExtraHosts", "--add-host"),
                      ("SecurityOpt", "--security-opt"), ("VolumesFrom", "--volumes-from"),
                      ("Links", "--link")):
        vals = get(hc, key)
        if isinstance(vals, list):
            handled.add(fold(key))
            for v in vals:
                out += [flag, str(v)]
    for key, flag in (("NetworkMode", "--network"), ("PidMode", "--pid"), ("IpcMode", "--ipc"),
                      ("UTSMode", "--uts"), ("UsernsMode", "--userns"),
                      ("CgroupnsMode", "--cgroupns"), ("Memory", "-m"),
                      ("PidsLimit", "--pids-limit"), ("CpuShares", "--cpu-shares"),
                      ("ShmSize", "--shm-size"), ("Runtime", "--runtime"),
                      ("LogConfig", None), ("RestartPolicy", None), ("PortBindings", None),
                      ("NanoCpus", None), ("Devices", None), ("Mounts", None),
                      ("Privileged", "--privileged"), ("ReadonlyRootfs", "--read-only"),
                      ("AutoRemove", "--rm"), ("Init", "--init"), ("Tmpfs", None),
                      ("Sysctls", None)):
        if not has(hc, key):
            continue
        v = get(hc, key)
        handled.add(fold(key))
        if v in (None, "", False, 0, [], {}) and key not in ("Privileged",):
            continue
        if key in ("Privileged", "ReadonlyRootfs", "AutoRemove", "Init"):
            if v is True:
                out.append(flag)
        elif key == "NanoCpus" and isinstance(v, (int, float)):
            out += ["--cpus", f"{v / 1e9:g}"]
        elif key == "RestartPolicy" and isinstance(v, dict) and get(v, "Name"):
            pol = str(get(v, "Name"))
            if get(v, "MaximumRetryCount"):
                pol += f":{get(v, 'MaximumRetryCount')}"
            out += ["--restart", pol]
        elif key == "PortBindings" and isinstance(v, dict):
            for port, binds in sorted(v.items()):
                # the line is shown for any parsed manifest: odd types must not crash it
                for b in binds if isinstance(binds, list) and binds else [{}]:
                    ip = str(get(b, "HostIp") or "")
                    hp = str(get(b, "HostPort") or "")
                    spec = f"{ip + ':' if ip else ''}{hp + ':' if hp or ip else ''}{port}"
                    out += ["-p", spec.replace("/tcp", "")]
        elif key == "Devices" and isinstance(v, list):
            for d in v:
                spec = f"{get(d, 'PathOnHost', '')}:{get(d, 'PathInContainer', '')}"
                if get(d, "CgroupPermissions"):
                    spec += f":{get(d, 'CgroupPermissions')}"
                out += ["--device", spec]
        elif key == "Mounts" and isinstance(v, list):
            for mnt in v:
                parts = [f"type={get(mnt, 'Type', 'volume')}"]
                if get(mnt, "Source"):
                    parts.append(f"source={get(mnt, 'Source')}")
                parts.append(f"target={get(mnt, 'Target', '')}")
                if get(mnt, "ReadOnly"):
                    parts.append("readonly")
                out += ["--mount", ",".join(parts)]
        elif key == "LogConfig" and isinstance(v, dict):
            if get(v, "Type"):
                out += ["--log-driver", str(get(v, "Type"))]
            cfg = get(v, "Config")
            for k2, v2 in sorted(cfg.items() if isinstance(cfg, dict) else ()):
                out += ["--log-opt", f"{k2}={v2}"]
        elif key == "Tmpfs" and isinstance(v, dict):
            for path, opts in sorted(v.items()):
                out += ["--tmpfs", f"{path}:{opts}" if opts else path]
        elif key == "Sysctls" and isinstance(v, dict):
            for k2, v2 in sorted(v.items()):
                out += ["--sysctl", f"{k2}={v2}"]
        elif flag and not isinstance(v, (dict, list, bool)):
            out += [flag, str(v)]
        else:
            left.append(f"HostConfig.{key}")
    for k in hc:
        if fold(k) not in handled:
            left.append(f"HostConfig.{k}")
    known = {fold(k) for k in ("Image", "Cmd", "Entrypoint", "Env", "Labels", "ExposedPorts",
                               "Volumes", "HostConfig", "Tty", "OpenStdin", "User", "WorkingDir",
                               "Hostname", "Domainname", "StopSignal", "StopTimeout",
                               "MacAddress", "AttachStdin", "AttachStdout", "AttachStderr")}
    for k in m:
        if fold(k) not in known:
            left.append(k)
    entry = _argv(get(m, "Entrypoint"))
    if entry:
        out += ["--entrypoint", entry[0]]
    out.append(str(get(m, "Image") or ""))
    out += entry[1:] + _argv(get(m, "Cmd"))
    return " ".join(_q(p) for p in out), left


def compact(m: dict) -> str:
    """The body Periscope sends: the manifest as parsed, in one line."""
    return json.dumps(m, separators=(",", ":"), ensure_ascii=False)


def curl_calls(curl, api_version: str, m: dict, name: str | None = None,
               start: bool = True) -> list[tuple[str, str]]:
    """The seed article's two calls, filled in: create, then start.

    `curl(method, path, body)` makes the command line for the engine in use
    (app.gateway.hosts.Host.curl)."""
    from urllib.parse import quote, urlencode

    query = "?" + urlencode({"name": name.lstrip("/")}) if name else ""
    calls = [("Create the container (the answer holds its Id)",
              curl("POST", f"/v{api_version}/containers/create{query}", compact(m)))]
    if start:
        ref = quote(name.lstrip("/"), safe="") if name else "ID"
        line = curl("POST", f"/v{api_version}/containers/{ref}/start", None)
        if not name:
            # The Id is only known from the first answer: leave it to the shell.
            url = line.rsplit(" ", 1)[-1]
            if url.startswith("http") and url.endswith("/containers/ID/start"):
                line = line[: -len(url)] + '"' + url[: -len("ID/start")] + '$ID/start"'
        calls.append(("Start it" + ("" if name else " (with the Id from the first answer in $ID)"),
                      line))
    return calls


def image_ref(image: str) -> tuple[str, str]:
    """(fromImage, tag) for POST /images/create. No tag means "latest" (the
    engine would otherwise pull every tag); a digest is kept as the tag."""
    image = image.strip()
    if "@" in image:
        repo, _, digest = image.partition("@")
        return repo, digest
    slash = image.rfind("/")
    colon = image.rfind(":")
    if colon > slash:
        return image[:colon], image[colon + 1:] or "latest"
    return image, "latest"


IMAGE_RE = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+|__)*"  # first component or registry
                      r"(?::[0-9]+)?"
                      r"(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"
                      r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?"
                      r"(?:@[a-z0-9]+:[a-f0-9]{32,})?$")


def check_image(image: str) -> str | None:
    """A message when `image` is not a reference the engine could pull."""
    if not image or not image.strip():
        return "Say which image to pull."
    if len(image) > 512:
        return "That image reference is too long."
    if not IMAGE_RE.match(image.strip()):
        return (f"{image[:100]!r} is not an image reference (like busybox, busybox:1.36 or "
                "registry.example:5000/team/app:tag; lower case).")
    return None


# -- the form's examples and preview ------------------------------------------------
EXAMPLES: dict[str, tuple[str, str]] = {
    "oneshot": ("One-shot command", """{
  "Image": "busybox",
  "Cmd": ["echo", "hello from Periscope"]
}
"""),
    "service": ("Long-running service with env and labels", """{
  "Image": "busybox",
  "Cmd": ["sh", "-c", "while true; do echo \\"$GREETING, it is $(date)\\"; sleep 5; done"],
  "Env": ["GREETING=Hello from a service"],
  "Labels": {
    "app": "greeter",
    "tier": "demo"
  },
  "StopSignal": "SIGKILL",
  "HostConfig": {
    "RestartPolicy": {"Name": "unless-stopped"}
  }
}
"""),
    "tty": ("Tty container (a shell kept open)", """{
  "Image": "busybox",
  "Tty": true,
  "OpenStdin": true,
  "Cmd": ["sh"]
}
"""),
}
DEFAULT_EXAMPLE = "oneshot"


def preview(text: str, name: str, start: bool, *, host, api: str) -> dict | None:
    """The docker run line and the curl calls for a manifest that parses
    (`host` the engine's gateway Host, `api` the version the calls use); for
    one that does not, its problems (the preview says where the first is)."""
    m, problems = parse(text)
    if m is None or problems:
        return {"problems": problems} if problems and text.strip() else None
    line, left = docker_run(m, name or None, start)
    return {"docker_run": line, "left": left,
            "curls": curl_calls(host.curl, api, m, name or None, start)}
