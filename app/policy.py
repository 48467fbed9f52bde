"""What a manifest may ask: the host-access policy.

A container that runs privileged, joins the host's namespaces, gets devices or
capabilities, runs unconfined, or mounts the host's root, the Engine socket or
the system folders owns the host. Periscope refuses to create one unless host
access is allowed (PERISCOPE_ALLOW_HOST_ACCESS=1, or per engine).

By allow-list, not deny-list: every field of HostConfig, of a mount and of a
Swarm ContainerSpec has a verdict here (FIELDS, MOUNT_FIELDS, SPEC_FIELDS;
docs/security.md is the table with the reasons). A field the policy does not
know is refused by name: a new engine field cannot pass by being new.

Host paths (binds, bind mounts, a local volume's `device`, what VolumesFrom
inherits) are judged as the engine will see them: resolved through symbolic
links on the engine's host, every parent too, when Periscope can see that
host's files (HostView); else refused unless under an allowed bind root.

`judge()` is pure: a manifest, how the host is seen, and lookups of the
engine's containers and volumes (for VolumesFrom and named volumes) in; a list
of Violations out. Fields are read as the Engine reads them (keys in any
case, see app/manifest.get).
"""

from __future__ import annotations

import os
import posixpath
import stat as stat_mod
from dataclasses import dataclass
from typing import Any, Callable

from .manifest import fold, get

# Host paths a bind or mount may not reach (nor any parent of them).
SENSITIVE_PATHS = ("/etc", "/proc", "/sys", "/root", "/boot", "/var/lib/docker", "/dev",
                   "/var/run/docker.sock", "/run/docker.sock", "/run", "/var/run",
                   "/lib/modules", "/usr/lib/modules", "/var/lib/containerd", "/var/lib/kubelet")
NAMESPACES = {"PidMode": "process", "IpcMode": "IPC", "UTSMode": "hostname (UTS)",
              "UsernsMode": "user", "NetworkMode": "network", "CgroupnsMode": "cgroup"}
ALLOWED_SECURITY_OPTS = ("no-new-privileges", "no-new-privileges:true", "no-new-privileges=true",
                         "seccomp=default", "seccomp:default", "seccomp=builtin")
LOG_DRIVERS = {"", "json-file", "local", "none"}
RUNTIMES = {"", "runc", "io.containerd.runc.v2"}
SYSCTL_PREFIXES = ("net.", "kernel.shm", "kernel.msg", "kernel.sem", "fs.mqueue.")
MAX_DEPTH = 8  # VolumesFrom chains followed at most this deep

# -- the verdict of every field -------------------------------------------------------
# "ok": any value is safe; "judged": the value is looked at (a f_<Field> method);
# "empty": only the engine's default (absent, null, empty, false) is accepted;
# "unset": only absent or null (there, even an empty value changes something).
FIELDS: dict[str, tuple[str, str]] = {
    # resources: limits on what the container may use, never access
    "CpuShares": ("ok", "a relative CPU weight"),
    "Memory": ("ok", "a memory limit"),
    "CgroupParent": ("empty", "places the container in another cgroup, such as the host's own"),
    "BlkioWeight": ("ok", "a relative block I/O weight"),
    "BlkioWeightDevice": ("ok", "a block I/O weight per device: a limit, not access"),
    "BlkioDeviceReadBps": ("ok", "a read rate limit per device: a limit, not access"),
    "BlkioDeviceWriteBps": ("ok", "a write rate limit per device: a limit, not access"),
    "BlkioDeviceReadIOps": ("ok", "a read IOPS limit per device: a limit, not access"),
    "BlkioDeviceWriteIOps": ("ok", "a write IOPS limit per device: a limit, not access"),
    "CpuPeriod": ("ok", "CFS scheduler period"),
    "CpuQuota": ("ok", "CFS scheduler quota"),
    "CpuRealtimePeriod": ("ok", "real-time scheduler period (the engine needs it enabled)"),
    "CpuRealtimeRuntime": ("ok", "real-time scheduler runtime (the engine needs it enabled)"),
    "CpusetCpus": ("ok", "which CPUs it may use"),
    "CpusetMems": ("ok", "which memory nodes it may use"),
    "Devices": ("empty", "gives the container the host's devices"),
    "DeviceCgroupRules": ("empty", "lets the container open the host's devices"),
    "DeviceRequests": ("empty", "gives the container the host's devices (GPUs...)"),
    "KernelMemory": ("ok", "a kernel memory limit (deprecated)"),
    "KernelMemoryTCP": ("ok", "a TCP buffer memory limit"),
    "MemoryReservation": ("ok", "a soft memory limit"),
    "MemorySwap": ("ok", "a memory plus swap limit"),
    "MemorySwappiness": ("ok", "swap tuning"),
    "NanoCpus": ("ok", "a CPU limit"),
    "OomKillDisable": ("ok", "keeps the OOM killer off its processes (it still has its limit)"),
    "Init": ("ok", "runs an init process first"),
    "PidsLimit": ("ok", "a process count limit"),
    "Ulimits": ("ok", "resource limits inside the container (the engine caps them)"),
    "CpuCount": ("ok", "Windows CPU count"),
    "CpuPercent": ("ok", "Windows CPU share"),
    "IOMaximumIOps": ("ok", "Windows IOPS limit"),
    "IOMaximumBandwidth": ("ok", "Windows I/O bandwidth limit"),
    # the container's place on the host
    "Binds": ("judged", "host paths and named volumes, resolved as the engine will"),
    "ContainerIDFile": ("empty", "a file on the host (a docker CLI option the API does not use)"),
    "LogConfig": ("judged", "json-file, local and none keep logs in the engine; other drivers "
                            "send them elsewhere or use host facilities"),
    "NetworkMode": ("judged", "\"host\" and \"container:…\" share another network namespace"),
    "PortBindings": ("ok", "publishes ports on the host's addresses"),
    "RestartPolicy": ("ok", "when the engine restarts it"),
    "AutoRemove": ("ok", "the engine removes it when it exits"),
    "VolumeDriver": ("judged", "a volume plugin other than local runs with host privileges"),
    "VolumesFrom": ("judged", "inherits another container's mounts: each is judged"),
    "Mounts": ("judged", "each mount is judged like a bind or a volume"),
    "ConsoleSize": ("ok", "the terminal's size"),
    "Annotations": ("empty", "passed to the runtime, which may act on them"),
    "CapAdd": ("empty", "adds capabilities beyond the default set"),
    "CapDrop": ("ok", "removes capabilities"),
    "Capabilities": ("empty", "replaces the default capability set (API 1.40 to 1.43)"),
    "CgroupnsMode": ("judged", "\"host\" shares the host's cgroup namespace"),
    "Dns": ("ok", "DNS servers"),
    "DnsOptions": ("ok", "resolver options"),
    "DnsSearch": ("ok", "DNS search domains"),
    "ExtraHosts": ("ok", "lines of the container's /etc/hosts"),
    "GroupAdd": ("ok", "supplementary groups inside the container"),
    "IpcMode": ("judged", "\"host\" and \"container:…\" share another IPC namespace"),
    "Cgroup": ("empty", "joins another container's cgroup"),
    "Links": ("ok", "legacy links to other containers' names"),
    "OomScoreAdj": ("ok", "OOM killer preference"),
    "PidMode": ("judged", "\"host\" and \"container:…\" share another process namespace"),
    "Privileged": ("empty", "a privileged container has every capability and device"),
    "PublishAllPorts": ("ok", "publishes exposed ports on random host ports"),
    "ReadonlyRootfs": ("ok", "a read-only root filesystem"),
    "SecurityOpt": ("judged", "only no-new-privileges and the default seccomp profile; anything "
                              "else changes or turns off the confinement"),
    "StorageOpt": ("judged", "only size (the storage driver's quota)"),
    "Tmpfs": ("ok", "memory-backed folders inside the container"),
    "UTSMode": ("judged", "\"host\" shares the host's hostname namespace"),
    "UsernsMode": ("judged", "\"host\" turns off user namespace remapping"),
    "ShmSize": ("ok", "the size of /dev/shm"),
    "Sysctls": ("judged", "only namespaced ones (net.*, kernel.shm*, kernel.msg*, kernel.sem, "
                          "fs.mqueue.*)"),
    "Runtime": ("judged", "only runc: another runtime may run containers unconfined"),
    "Isolation": ("judged", "only the default (Windows)"),
    "MaskedPaths": ("unset", "changes which of the host's /proc and /sys paths are hidden (an "
                             "empty list shows them all)"),
    "ReadonlyPaths": ("unset", "changes which of the host's /proc and /sys paths are read-only"),
}
MOUNT_FIELDS: dict[str, tuple[str, str]] = {
    "Target": ("ok", "where it appears in the container"),
    "Source": ("judged", "a host path (bind) or a volume name (volume), judged"),
    "Type": ("judged", "bind, volume, tmpfs and image; npipe and cluster reach host facilities"),
    "ReadOnly": ("ok", "read-only"),
    "Consistency": ("ok", "a Docker Desktop hint"),
    "BindOptions": ("judged", "propagation private only; the rest is safe"),
    "VolumeOptions": ("judged", "a local volume's driver options, judged as below"),
    "TmpfsOptions": ("ok", "size and mode of a tmpfs"),
    "ImageOptions": ("ok", "a path inside an image (API 1.48)"),
    "ClusterOptions": ("empty", "a cluster (CSI) volume"),
}
BIND_OPTION_FIELDS = {"Propagation", "NonRecursive", "CreateMountpoint", "ReadOnlyNonRecursive",
                      "ReadOnlyForceRecursive"}
VOLUME_OPTION_FIELDS = {"NoCopy", "Labels", "DriverConfig", "Subpath"}
DRIVER_CONFIG_FIELDS = {"Name", "Options"}
# a local volume's driver options (`docker volume create --opt`, a mount's
# VolumeOptions.DriverConfig.Options): what the engine hands to mount(2). Keys
# are the engine's, in its case (it refuses any other key).
VOLUME_DRIVER_OPTIONS: dict[str, tuple[str, str]] = {
    "type": ("judged", "the file system: none (a bind of a host folder) or tmpfs only; any other "
                       "can mount the host's / (overlay), its /proc, /sys, cgroups or a device"),
    "o": ("judged", "mount options: bind, rbind, ro, rw, nosuid, nodev, noexec for a bind; size, "
                    "mode, uid, gid for a tmpfs"),
    "device": ("judged", "for a bind, a host path, judged as binds are (a tmpfs's is only a name)"),
}
BIND_VOLUME_FLAGS = {"bind", "rbind", "ro", "rw", "nosuid", "nodev", "noexec"}
TMPFS_VOLUME_OPTS = {"size", "mode", "uid", "gid"}
# a Swarm service's ContainerSpec (Periscope sends one when it scales or updates)
SPEC_FIELDS: dict[str, tuple[str, str]] = {
    "Image": ("ok", "the image"), "Labels": ("ok", "labels"), "Command": ("ok", "the command"),
    "Args": ("ok", "its arguments"), "Hostname": ("ok", "the hostname"), "Env": ("ok", "env"),
    "Dir": ("ok", "working folder"), "User": ("ok", "user inside"), "Groups": ("ok", "groups"),
    "Privileges": ("judged", "credential spec, SELinux, seccomp, AppArmor, no-new-privileges"),
    "TTY": ("ok", "a terminal"), "OpenStdin": ("ok", "stdin"), "ReadOnly": ("ok", "read-only"),
    "Mounts": ("judged", "each mount judged"), "StopSignal": ("ok", "the stop signal"),
    "StopGracePeriod": ("ok", "grace period"), "HealthCheck": ("ok", "health check"),
    "Hosts": ("ok", "/etc/hosts lines"), "DNSConfig": ("ok", "DNS"),
    "Secrets": ("ok", "Swarm secrets"), "Configs": ("ok", "Swarm configs"),
    "Isolation": ("judged", "only the default"), "Init": ("ok", "an init"),
    "Sysctls": ("judged", "only namespaced ones"), "CapabilityAdd": ("empty", "adds capabilities"),
    "CapabilityDrop": ("ok", "removes capabilities"), "Ulimits": ("ok", "limits"),
    "OomScoreAdj": ("ok", "OOM preference"),
}


@dataclass(frozen=True)
class Violation:
    field: str  # "HostConfig.Binds[0]"
    reason: str

    def __str__(self) -> str:
        return f"{self.field}: {self.reason}"


@dataclass(frozen=True)
class HostView:
    """How Periscope sees the engine host's files. `root`: the folder where
    the host's / is visible ("/" when Periscope runs on that host, outside a
    container; a read-only mount of the host's root when it runs in one);
    None when it cannot see them (a remote engine). `bind_roots`: host
    folders binds may use when paths cannot be resolved."""

    root: str | None
    bind_roots: tuple[str, ...] = ()
    why: str = ""


@dataclass
class Lookups:
    """The engine's answers the policy needs, given as functions (None:
    nothing there)."""

    container: Callable[[str], dict | None] = lambda ref: None
    volume: Callable[[str], dict | None] = lambda name: None


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


def resolve_under(root: str, path: str, max_links: int = 40) -> tuple[str, list[str]]:
    """`path` on the host whose / is visible at `root`, every symbolic link
    followed as the kernel would (absolute targets re-rooted at `root`, `..`
    taken after the link before it, never above /): (the resolved host path,
    every host path met on the way). A part that does not exist is kept as
    written (the engine would create it); one that cannot be looked at (a
    folder Periscope's user may not search) raises OSError: the caller
    refuses what it cannot resolve."""
    parts = [p for p in path.split("/") if p and p != "."]
    done: list[str] = []
    seen: list[str] = ["/"]
    links = 0
    while parts:
        name = parts.pop(0)
        if name == "..":
            if done:
                done.pop()
            continue
        cand = "/" + "/".join(done + [name])
        seen.append(cand)
        real = os.path.join(root, cand.lstrip("/"))
        try:
            st = os.lstat(real)
        except (FileNotFoundError, NotADirectoryError):
            # not there (or under a file): the engine would create it as written.
            # Any other error (EACCES, EPERM in a folder Periscope's user cannot
            # search, EIO...) is raised: a link could hide there, unseen.
            done.append(name)
            done.extend(p for p in parts)
            break
        if stat_mod.S_ISLNK(st.st_mode):
            links += 1
            if links > max_links:
                raise ValueError(f"too many symbolic links in {path}")
            target = os.readlink(real)
            if target.startswith("/"):
                done = []
            parts = [p for p in target.split("/") if p and p != "."] + parts
            continue
        done.append(name)
    resolved = "/" + "/".join(done)
    seen.append(resolved)
    return resolved, seen


class Refused(Exception):
    """A container the policy will not let the engine start or restart as it
    is now (app/hostview.py judge_before_start); app/errors.py answers 403."""

    def __init__(self, name: str, action: str, violations: list[Violation],
                 host: HostView | None = None):
        super().__init__(f"{name}: {action} refused by the host-access policy")
        self.name = name
        self.action = action
        self.violations = violations
        self.host = host


class Judge:
    """One manifest's judgement (see judge())."""

    def __init__(self, engine_socket: str | None, host: HostView, lookups: Lookups):
        self.sock = engine_socket
        self.host = host
        self.lookups = lookups
        self.out: list[Violation] = []

    def refuse(self, where: str, reason: str) -> None:
        self.out.append(Violation(where, reason))

    # -- host paths --------------------------------------------------------------------
    def host_path(self, where: str, path: str) -> None:
        why = sensitive_path(path, self.sock)
        if why:
            self.refuse(where, why)
            return
        p = _norm(path)
        if self.host.root is None:
            # nothing to resolve with: only under a root the operator allows
            if not any(p == r or p.startswith(r.rstrip("/") + "/") for r in self.host.bind_roots):
                self.refuse(where, f"Periscope cannot see this engine's host, so it cannot tell "
                                   f"where {p} leads (a symbolic link there could reach the "
                                   f"host's root); {self.host.why}")
            return
        try:  # as spelled (the kernel takes .. after links) and as the engine may clean it
            resolved = {resolve_under(self.host.root, q)[0] for q in (path, p)}
        except OSError as exc:
            at = str(exc.filename or "")
            if at.startswith(self.host.root):
                at = "/" + at[len(self.host.root):].lstrip("/")
            self.refuse(where, f"{p} cannot be resolved on the host: {exc.strerror or exc} at "
                               f"{at or p}, so Periscope cannot tell where it leads (a symbolic "
                               "link there could reach the host's root)")
            return
        except ValueError as exc:
            self.refuse(where, f"{p} cannot be resolved on the host: {exc}")
            return
        for r in sorted(resolved):
            why = sensitive_path(r, self.sock)
            if why:
                self.refuse(where, f"{p} leads to {r} on the host (through a symbolic link): {why}")
                return

    def volume(self, where: str, name: str) -> None:
        """A named volume: an existing local one may bind a host folder."""
        if not isinstance(name, str) or not name:
            return
        vol = self.lookups.volume(name)
        if not vol:
            return  # the engine makes a new, plain one
        driver = vol.get("Driver") or "local"
        if driver != "local":
            self.refuse(where, f"the volume {name} uses the plugin {driver!r}, which runs with "
                               "host privileges")
            return
        self.volume_options(where, vol.get("Options"), f"the volume {name}'s ")

    def volume_options(self, where: str, opts: Any, whose: str = "") -> None:
        """A local volume's driver options, as the engine will mount them: a
        bind of a host folder (type none, its device judged as a host path)
        or a tmpfs, nothing else (VOLUME_DRIVER_OPTIONS)."""
        if opts in (None, {}):
            return
        if not isinstance(opts, dict):
            return self.refuse(where, f"{whose}driver options must be an object")
        for key, value in opts.items():
            if key not in VOLUME_DRIVER_OPTIONS:
                self.refuse(where, f"{whose}option {str(key)[:40]!r} is not one Periscope knows "
                                   "(type, o, device), so it is refused")
            elif not isinstance(value, str):
                self.refuse(where, f"{whose}option {key!r} must be a string")
        kind, o, dev = (opts.get(k) for k in ("type", "o", "device"))
        kind = kind if isinstance(kind, str) else ""
        flags = [f for f in o.split(",") if f] if isinstance(o, str) else []
        if kind in ("", "none"):
            bad = [f for f in flags if f not in BIND_VOLUME_FLAGS]
            if bad:
                self.refuse(where, f"{whose}mount options {','.join(bad)[:80]!r}: a volume that "
                                   "binds a host folder may only take bind, rbind, ro, rw, nosuid, "
                                   "nodev and noexec")
            if isinstance(dev, str) and dev:
                self.host_path(where, dev)
        elif kind == "tmpfs":
            bad = [f for f in flags if f.split("=", 1)[0] not in TMPFS_VOLUME_OPTS or "=" not in f]
            if bad:
                self.refuse(where, f"{whose}mount options {','.join(bad)[:80]!r}: a tmpfs volume "
                                   "may only take size, mode, uid and gid")
        else:
            self.refuse(where, f"{whose}file system type {kind[:40]!r}: a local volume may only "
                               "bind a host folder (type none) or be a tmpfs; another file system "
                               "can mount the host's / (overlay), its /proc, /sys or cgroups, "
                               "or a device")

    # -- HostConfig ----------------------------------------------------------------------
    def host_config(self, hc: Any, prefix: str = "HostConfig") -> None:
        if hc is None:
            return
        if not isinstance(hc, dict):
            self.refuse(prefix, "must be an object")
            return
        known = {fold(k): k for k in FIELDS}
        for key, value in hc.items():
            name = known.get(fold(key))
            if name is None:
                self.refuse(f"{prefix}.{key}", "not a field Periscope knows, so it is refused: a "
                                               "new engine field cannot pass by being new")
                continue
            verdict, why = FIELDS[name]
            where = f"{prefix}.{name}"
            if verdict == "ok":
                continue
            if verdict == "empty":
                if value not in (None, False, "", [], {}, 0):
                    self.refuse(where, why)
                continue
            if verdict == "unset":
                if value is not None:
                    self.refuse(where, why)
                continue
            getattr(self, "f_" + name)(where, value)

    def f_Binds(self, where, binds):
        if binds is None:
            return
        if not isinstance(binds, list):
            return self.refuse(where, "must be a list")
        for i, b in enumerate(binds):
            if not isinstance(b, str):
                self.refuse(f"{where}[{i}]", "must be a string")
                continue
            src = b.split(":", 1)[0]
            if src.startswith("/"):
                self.host_path(f"{where}[{i}]", src)
            else:
                self.volume(f"{where}[{i}]", src)
            parts = b.split(":")
            opts = parts[2].split(",") if len(parts) > 2 else []
            if any(o.strip().lower() in ("shared", "rshared", "slave", "rslave") for o in opts):
                # as a mount's BindOptions.Propagation
                self.refuse(f"{where}[{i}]", "shared or slave propagation ties the container's "
                                             "mounts to the host's")

    def f_LogConfig(self, where, lc):
        if lc is None:
            return
        kind = get(lc, "Type") if isinstance(lc, dict) else None
        if not isinstance(kind, str) or kind.lower() not in LOG_DRIVERS:
            self.refuse(f"{where}.Type", FIELDS["LogConfig"][1])

    def _namespace(self, where, value, name):
        if not isinstance(value, str) or not value.strip():
            return
        v = value.strip().lower()
        if v == "host":
            self.refuse(where, f"\"host\" shares the host's {NAMESPACES[name]} namespace")
        elif v.startswith("container:") and name in ("PidMode", "IpcMode", "NetworkMode"):
            self.refuse(where, f"\"{value}\" joins another container's namespace, which may be "
                               "the host's or a privileged one's")

    def f_NetworkMode(self, where, v):
        self._namespace(where, v, "NetworkMode")

    def f_IpcMode(self, where, v):
        self._namespace(where, v, "IpcMode")

    def f_PidMode(self, where, v):
        self._namespace(where, v, "PidMode")

    def f_UTSMode(self, where, v):
        self._namespace(where, v, "UTSMode")

    def f_UsernsMode(self, where, v):
        self._namespace(where, v, "UsernsMode")

    def f_CgroupnsMode(self, where, v):
        self._namespace(where, v, "CgroupnsMode")

    def f_VolumeDriver(self, where, v):
        if v not in (None, "", "local"):
            self.refuse(where, FIELDS["VolumeDriver"][1])

    def f_VolumesFrom(self, where, refs):
        if refs is None:
            return
        if not isinstance(refs, list):
            return self.refuse(where, "must be a list")
        seen: set = set()
        for i, ref in enumerate(refs):
            if not isinstance(ref, str):
                self.refuse(f"{where}[{i}]", "must be a string")
                continue
            self._inherit(f"{where}[{i}]", ref, [], seen)

    def _inherit(self, where: str, ref: str, chain: list[str], seen: set) -> None:
        """What a container inherits from `ref` (and what `ref` inherits)."""
        name = ref.rsplit(":", 1)[0] if ref.endswith((":ro", ":rw")) else ref
        c = self.lookups.container(name)
        if not c or c.get("Id") in seen:
            return  # none there (the engine refuses it), or judged already
        seen.add(c.get("Id"))
        chain = [*chain, name]
        label = f"{where} ({' → '.join(chain)})"
        if len(chain) > MAX_DEPTH:
            return self.refuse(label, "inherits through too many containers to judge")
        for m in c.get("Mounts") or []:
            kind = (m.get("Type") or "").lower()
            if kind == "bind":
                self.host_path(label, m.get("Source") or "")
            elif kind == "volume":
                self.volume(label, m.get("Name") or "")
            elif kind not in ("tmpfs", "image", ""):
                self.refuse(label, f"inherits a {kind} mount")
        for inner in get(c.get("HostConfig") or {}, "VolumesFrom") or []:
            if isinstance(inner, str):
                self._inherit(where, inner, chain, seen)

    def f_Mounts(self, where, mounts):
        if mounts is None:
            return
        if not isinstance(mounts, list):
            return self.refuse(where, "must be a list")
        for i, m in enumerate(mounts):
            self.mount(f"{where}[{i}]", m)

    def mount(self, where: str, m: Any) -> None:
        if not isinstance(m, dict):
            return self.refuse(where, "must be an object")
        known = {fold(k): k for k in MOUNT_FIELDS}
        for key in m:
            name = known.get(fold(key))
            if name is None:
                self.refuse(f"{where}.{key}", "not a mount field Periscope knows, so it is refused")
            elif MOUNT_FIELDS[name][0] == "empty" and m[key] not in (None, {}, ""):
                self.refuse(f"{where}.{name}", MOUNT_FIELDS[name][1])
        kind = str(get(m, "Type") or "volume").lower()
        src = get(m, "Source")
        if kind == "bind":
            if isinstance(src, str):
                self.host_path(f"{where}.Source", src)
            else:
                self.refuse(f"{where}.Source", "a bind mount needs a host path")
        elif kind == "volume":
            self.volume(f"{where}.Source", src)
        elif kind not in ("tmpfs", "image"):
            self.refuse(f"{where}.Type", f"a {kind} mount reaches host facilities "
                                         "(npipe: the engine's own pipe; cluster: CSI)")
        bo = get(m, "BindOptions")
        if isinstance(bo, dict):
            for key in bo:
                if key not in BIND_OPTION_FIELDS and fold(key) not in map(fold, BIND_OPTION_FIELDS):
                    self.refuse(f"{where}.BindOptions.{key}", "not a field Periscope knows")
            prop = get(bo, "Propagation")
            if prop not in (None, "", "private", "rprivate"):
                self.refuse(f"{where}.BindOptions.Propagation", "shared or slave propagation ties "
                                                                "the container's mounts to the host's")
        vo = get(m, "VolumeOptions")
        if isinstance(vo, dict):
            for key in vo:
                if fold(key) not in map(fold, VOLUME_OPTION_FIELDS):
                    self.refuse(f"{where}.VolumeOptions.{key}", "not a field Periscope knows")
            dc = get(vo, "DriverConfig")
            if isinstance(dc, dict):
                for key in dc:
                    if fold(key) not in map(fold, DRIVER_CONFIG_FIELDS):
                        self.refuse(f"{where}.VolumeOptions.DriverConfig.{key}",
                                    "not a field Periscope knows")
                drv = get(dc, "Name")
                if drv not in (None, "", "local"):
                    self.refuse(f"{where}.VolumeOptions.DriverConfig.Name",
                                "a volume plugin other than local runs with host privileges")
                self.volume_options(f"{where}.VolumeOptions", get(dc, "Options"))
            elif dc is not None:
                self.refuse(f"{where}.VolumeOptions.DriverConfig", "must be an object")

    def f_SecurityOpt(self, where, opts):
        if opts is None:
            return
        if not isinstance(opts, list):
            return self.refuse(where, "must be a list")
        for i, opt in enumerate(opts):
            o = opt.strip().lower().replace(" ", "") if isinstance(opt, str) else None
            if o in ALLOWED_SECURITY_OPTS:
                continue
            if o and (o.startswith("label=") or o.startswith("label:")) and not any(
                    t in o for t in ("disable", "spc_t", "unconfined_t", "kernel_t")) \
                    and ("level:" in o or "user:" in o or "role:" in o):
                continue  # SELinux user, role or level: still confined
            self.refuse(f"{where}[{i}]", f"\"{opt}\": only no-new-privileges and the default "
                                         "seccomp profile are allowed; this changes or turns off "
                                         "the confinement that keeps a container from the host")

    def f_StorageOpt(self, where, opts):
        if opts in (None, {}):
            return
        if not isinstance(opts, dict):
            return self.refuse(where, "must be an object")
        for k in opts:
            if k != "size":
                self.refuse(f"{where}.{k}", FIELDS["StorageOpt"][1])

    def f_Sysctls(self, where, sysctls):
        if sysctls in (None, {}):
            return
        if not isinstance(sysctls, dict):
            return self.refuse(where, "must be an object")
        for k in sysctls:
            if not (isinstance(k, str) and k.startswith(SYSCTL_PREFIXES)):
                self.refuse(f"{where}.{k}", "not a namespaced sysctl: it would change the host")

    def f_Runtime(self, where, v):
        if v not in (None, *RUNTIMES):
            self.refuse(where, FIELDS["Runtime"][1])

    def f_Isolation(self, where, v):
        if v not in (None, "", "default"):
            self.refuse(where, FIELDS["Isolation"][1])

    # -- a Swarm ContainerSpec -----------------------------------------------------------
    def container_spec(self, spec: Any, prefix: str = "ContainerSpec") -> None:
        if not isinstance(spec, dict):
            return self.refuse(prefix, "must be an object")
        known = {fold(k): k for k in SPEC_FIELDS}
        for key, value in spec.items():
            name = known.get(fold(key))
            where = f"{prefix}.{key}"
            if name is None:
                self.refuse(where, "not a field Periscope knows, so it is refused")
                continue
            verdict, why = SPEC_FIELDS[name]
            if verdict == "empty" and value not in (None, [], ""):
                self.refuse(where, why)
            elif name == "Mounts":
                self.f_Mounts(where, value)
            elif name == "Sysctls":
                self.f_Sysctls(where, value)
            elif name == "Isolation":
                self.f_Isolation(where, value)
            elif name == "Privileges" and value:
                self.privileges(where, value)

    def privileges(self, where: str, p: Any) -> None:
        if not isinstance(p, dict):
            return self.refuse(where, "must be an object")
        for key, value in p.items():
            k = fold(key)
            if k == fold("NoNewPrivileges"):
                continue
            if k == fold("Seccomp") and (get(value, "Mode") in (None, "", "default")):
                continue
            if k == fold("AppArmor") and (get(value, "Mode") in (None, "", "default")):
                continue
            if value in (None, {}):
                continue
            self.refuse(f"{where}.{key}", "changes the confinement (only no-new-privileges and "
                                          "the default seccomp and AppArmor are allowed)")


def judge(manifest: dict, *, engine_socket: str | None = None,
          host: HostView | None = None, lookups: Lookups | None = None) -> list[Violation]:
    """Every reason this container manifest would own the host (empty when
    it would not)."""
    j = Judge(engine_socket, host or HostView(None), lookups or Lookups())
    j.host_config(get(manifest, "HostConfig"))
    return j.out


def judge_paths(host_config: dict, *, engine_socket: str | None = None,
                host: HostView | None = None, lookups: Lookups | None = None) -> list[Violation]:
    """Only what reaches host files (Binds, Mounts, VolumesFrom), judged again
    on a created container's HostConfig as the engine recorded it, right
    before it starts: a symbolic link planted since the first judgement is
    caught if it is there by now."""
    j = Judge(engine_socket, host or HostView(None), lookups or Lookups())
    hc = host_config if isinstance(host_config, dict) else {}
    j.f_Binds("HostConfig.Binds", get(hc, "Binds"))
    j.f_Mounts("HostConfig.Mounts", get(hc, "Mounts"))
    j.f_VolumesFrom("HostConfig.VolumesFrom", get(hc, "VolumesFrom"))
    return j.out


def judge_service(spec: dict, *, engine_socket: str | None = None,
                  host: HostView | None = None, lookups: Lookups | None = None
                  ) -> list[Violation]:
    """The same for a Swarm service spec Periscope is about to send: its
    TaskTemplate.ContainerSpec (paths are judged on every node's host, which
    Periscope cannot see: binds need an allowed bind root)."""
    j = Judge(engine_socket, host or HostView(None), lookups or Lookups())
    tt = get(spec, "TaskTemplate")
    if not isinstance(tt, dict):
        return j.out
    cs = get(tt, "ContainerSpec")
    if cs is not None:
        j.container_spec(cs, "TaskTemplate.ContainerSpec")
    # a managed plugin task is root on every node; another runtime as for a container
    if get(tt, "PluginSpec") not in (None, {}):
        j.refuse("TaskTemplate.PluginSpec", "a plugin task installs a managed plugin, which "
                                            "runs as root on every node")
    runtime = get(tt, "Runtime")
    if runtime not in (None, "", "container"):
        j.refuse("TaskTemplate.Runtime", "only container tasks are sent")
    ld = get(tt, "LogDriver")
    if ld is not None:
        name = get(ld, "Name") if isinstance(ld, dict) else None
        j.f_LogConfig("TaskTemplate.LogDriver", {"Type": name or ""})
    nets = get(tt, "Networks") or get(spec, "Networks") or []
    if any(isinstance(n, dict) and str(get(n, "Target") or "").lower() == "host"
           for n in (nets if isinstance(nets, list) else [])):
        j.refuse("TaskTemplate.Networks", "\"host\" shares the host's network namespace with "
                                          "the tasks")
    return j.out


def violations(manifest: dict, engine_socket: str | None = None) -> list[Violation]:
    """judge() seeing nothing of the host (tests and callers that have no
    engine at hand: every host path then needs an allowed bind root)."""
    return judge(manifest, engine_socket=engine_socket)


def describe() -> str:
    """One sentence for the form: what is refused by default."""
    return ("Privileged mode, added capabilities, devices, the host's namespaces (pid, ipc, uts, "
            "userns, network, cgroup \"host\"; pid, ipc, network of another container), unconfined "
            "security options, other runtimes, log drivers and volume plugins, inherited mounts "
            "that would be refused, binds or mounts that lead (through symbolic links too) to "
            "/, the Engine socket, /etc, /proc, /sys, /root, /boot, /dev, /run or /var/lib/docker, "
            "and any HostConfig field Periscope does not know.")
