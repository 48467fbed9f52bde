"""What a manifest may ask: the host-access policy.

A container that runs privileged, joins the host's namespaces, gets devices or
capabilities, runs unconfined, or mounts the host's root, the Engine socket or
the system folders owns the host. Periscope refuses to create one unless
PERISCOPE_ALLOW_HOST_ACCESS=1 (Settings.allow_host_access).

`violations()` is pure: a manifest in, a list of (field, reason) out. Fields are
read as the Engine reads them (keys in any case, see app/manifest.get), so
{"hostconfig": {"privileged": true}} is caught like the canonical spelling.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from .manifest import get

# Host paths that a bind or mount may not reach (nor any parent of them).
SENSITIVE_PATHS = ("/etc", "/proc", "/sys", "/root", "/boot", "/var/lib/docker", "/dev",
                   "/var/run/docker.sock", "/run/docker.sock", "/run/containerd",
                   "/var/run/containerd")
NAMESPACE_FIELDS = ("PidMode", "IpcMode", "UTSMode", "UsernsMode", "NetworkMode", "CgroupnsMode")
UNCONFINED_OPTS = {"seccomp=unconfined", "seccomp:unconfined", "apparmor=unconfined",
                   "apparmor:unconfined", "label=disable", "label:disable",
                   "systempaths=unconfined", "systempaths:unconfined"}


@dataclass(frozen=True)
class Violation:
    field: str  # "HostConfig.Binds[0]"
    reason: str

    def __str__(self) -> str:
        return f"{self.field}: {self.reason}"


def _norm(path: str) -> str:
    p = posixpath.normpath("/" + path.strip()) if path.strip() else "/"
    if p.startswith("//"):
        p = "/" + p.lstrip("/")
    return p


def sensitive_path(path: str, engine_socket: str | None = None) -> str | None:
    """Why a host path may not be mounted, or None when it may."""
    if not isinstance(path, str) or not path.startswith("/"):
        return None  # a named volume, not a host path
    p = _norm(path)
    if p == "/":
        return "it mounts the host's root filesystem"
    paths = list(SENSITIVE_PATHS)
    sock = _norm(engine_socket) if engine_socket else None
    if sock:
        paths.append(sock)
    for s in paths:
        if p == s or p.startswith(s + "/"):
            what = "the Engine socket" if s.endswith(".sock") or s == sock else s
            return f"it mounts {what} from the host" if p == s else \
                f"it mounts {p}, inside {what} on the host"
        if s.startswith(p + "/"):
            what = "the Engine socket" if s.endswith(".sock") or s == sock else s
            return f"it mounts {p}, which holds {what} on the host"
    return None


def _custom_seccomp(opt: str) -> bool:
    """seccomp=<a profile given inline> (not the engine's default)."""
    key, sep, value = opt.strip().partition("=")
    if not sep:
        key, sep, value = opt.strip().partition(":")
    return key.strip().lower() == "seccomp" and value.strip().lower() not in (
        "", "default", "builtin", "unconfined")


def _unconfined_label(opt: str) -> bool:
    """label=type:spc_t (SELinux's super-privileged container) and friends."""
    o = opt.strip().lower().replace(" ", "")
    if not (o.startswith("label=") or o.startswith("label:")):
        return False
    return any(t in o for t in ("type:spc_t", "type:unconfined_t", "type:kernel_t"))


def _bind_source(bind: str) -> str:
    # "src:dst[:opts]"; a Windows drive letter is not our case.
    return bind.split(":", 1)[0] if ":" in bind else ""


def violations(manifest: dict, engine_socket: str | None = None) -> list[Violation]:
    """Every reason this manifest would own the host (empty when it would not)."""
    out: list[Violation] = []
    hc = get(manifest, "HostConfig")
    if not isinstance(hc, dict):
        return out

    if get(hc, "Privileged") is True:
        out.append(Violation("HostConfig.Privileged", "a privileged container has every "
                             "capability and every device of the host"))
    cap_add = get(hc, "CapAdd")
    if isinstance(cap_add, list) and cap_add:
        out.append(Violation("HostConfig.CapAdd", "adds capabilities ("
                             + ", ".join(str(c) for c in cap_add[:8]) + ") beyond the default set"))
    for key in ("Devices", "DeviceCgroupRules", "DeviceRequests"):
        v = get(hc, key)
        if isinstance(v, list) and v:
            out.append(Violation(f"HostConfig.{key}", "gives the container the host's devices"))
    for key in NAMESPACE_FIELDS:
        v = get(hc, key)
        if isinstance(v, str) and v.strip().lower() == "host":
            ns = {"PidMode": "process", "IpcMode": "IPC", "UTSMode": "hostname (UTS)",
                  "UsernsMode": "user", "NetworkMode": "network",
                  "CgroupnsMode": "cgroup"}[key]
            out.append(Violation(f"HostConfig.{key}", f"\"host\" shares the host's {ns} "
                                 "namespace with the container"))
        elif (isinstance(v, str) and key in ("PidMode", "IpcMode", "NetworkMode")
              and v.strip().lower().startswith("container:")):
            out.append(Violation(f"HostConfig.{key}", f"\"{v}\" joins another container's "
                                 "namespace, which may be the host's or a privileged one's"))
    sec = get(hc, "SecurityOpt")
    if isinstance(sec, list):
        for i, opt in enumerate(sec):
            if isinstance(opt, str) and opt.strip().lower().replace(" ", "") in UNCONFINED_OPTS:
                out.append(Violation(f"HostConfig.SecurityOpt[{i}]",
                                     f"\"{opt}\" turns off the confinement that keeps a "
                                     "container from the host"))
            elif isinstance(opt, str) and _unconfined_label(opt):
                out.append(Violation(f"HostConfig.SecurityOpt[{i}]",
                                     f"\"{opt}\" runs the container with an SELinux type that "
                                     "is not confined"))
            elif isinstance(opt, str) and _custom_seccomp(opt):
                # the docker CLI sends --security-opt seccomp=FILE as the file's JSON:
                # {"defaultAction": "SCMP_ACT_ALLOW"} is seccomp=unconfined by another name
                out.append(Violation(f"HostConfig.SecurityOpt[{i}]",
                                     "a seccomp profile of its own can allow every system "
                                     "call; only the engine's default profile is allowed"))
    for key in ("MaskedPaths", "ReadonlyPaths"):
        v = get(hc, key)
        if isinstance(v, list) and not v:
            out.append(Violation(f"HostConfig.{key}", "an empty list unmasks the host's /proc "
                                 "and /sys paths the engine hides by default"))
    binds = get(hc, "Binds")
    if isinstance(binds, list):
        for i, b in enumerate(binds):
            if isinstance(b, str):
                why = sensitive_path(_bind_source(b), engine_socket)
                if why:
                    out.append(Violation(f"HostConfig.Binds[{i}]", why))
    mounts = get(hc, "Mounts")
    if isinstance(mounts, list):
        for i, m in enumerate(mounts):
            if not isinstance(m, dict):
                continue
            kind = str(get(m, "Type") or "volume").lower()
            src = get(m, "Source")
            if kind == "bind" and isinstance(src, str):
                why = sensitive_path(src, engine_socket)
                if why:
                    out.append(Violation(f"HostConfig.Mounts[{i}].Source", why))
            # A local volume can bind any host folder: {"o": "bind", "device": "/"}.
            opts = get(get(get(m, "VolumeOptions"), "DriverConfig"), "Options")
            dev = get(opts, "device")
            if isinstance(dev, str):
                why = sensitive_path(dev, engine_socket)
                if why:
                    out.append(Violation(f"HostConfig.Mounts[{i}].VolumeOptions", why))
    return out


def describe() -> str:
    """One sentence for the form: what is refused by default."""
    return ("Privileged mode, added capabilities, devices, the host's namespaces (pid, ipc, uts, "
            "userns, network, cgroup \"host\"; pid, ipc, network of another container), unconfined "
            "security options, and binds or mounts of "
            "/, the Engine socket, /etc, /proc, /sys, /root, /boot, /dev or /var/lib/docker.")
