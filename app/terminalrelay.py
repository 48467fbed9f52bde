"""A terminal in the browser: a command run in a container with a TTY, its
bytes relayed between a WebSocket (the `channel`) and the engine's hijacked
exec stream (gateway ExecStream). No Flask here; app/views/terminal.py hands
a channel in and nothing else.

- What to run: `parse_command` (/bin/sh by default, /bin/bash, or an argv
  typed in; a user and a working directory).
- How many: `Slots`, a cap per client and in all, shared by every gunicorn
  worker through lock files in the state folder (a crashed worker's slots free
  themselves: the kernel drops its locks), and a per-worker cap that keeps at
  least half of the worker's threads for pages.
- The relay (`Terminal.run`): the engine's output goes to the browser from a
  thread of its own; the browser's frames go to the exec from the request's
  thread. Binary frames are the exec's input, byte for byte; the only text
  frame taken is a resize. Everything sent to the browser that is not the
  exec's output is a small JSON notice made here (never the container's text).
- The end: when the output ends, GET /exec/{id}/json gives the exit code and
  one inspect of the container tells a finished command from a stopped or
  removed container. A command that could not start (exit 126/127, no PID)
  says the executable is missing.
- No shell left behind: the engine keeps a TTY exec running when its
  connection closes, and has no call to end one. Each terminal's exec carries
  a marker in its environment (PERISCOPE_TERMINAL=<random>); when the browser
  leaves, the terminal idles out, or the worker stops, a second, detached exec
  sends SIGHUP (then TERM, then KILL) to every process carrying that marker:
  what closing a terminal window does to the programs started in it.
"""

from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
import re
import secrets
import shlex
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Protocol

from .gateway import Engine, exceptions as ge
from .params import InputError

log = logging.getLogger("periscope.terminal")

SHELLS = {"sh": ["/bin/sh"], "bash": ["/bin/bash"]}
MARKER = "PERISCOPE_TERMINAL"
MAX_ARGV_TEXT = 4096
MAX_ARGS = 64
_USER_RE = re.compile(r"[A-Za-z0-9_.][A-Za-z0-9_.-]{0,63}(:[A-Za-z0-9_.][A-Za-z0-9_.-]{0,63})?")
EXIT_GRACE = 3.0  # seconds to wait for the exec's end to show in GET /exec/{id}/json
HANGUP_WAIT = 6.0  # seconds to wait for the stream to end after the hangup
REMOVE_GRACE = 1.0  # seconds a killed container is watched for its removal
STALL = 2.0  # input sent, no output for this long: look at the container once

# SIGHUP, then TERM, then KILL to every process whose environment holds the
# marker (the shell and what it started), a second apart: POSIX sh, grep and
# kill, as in any image that has a shell. environ is NUL-separated: grep -z
# (GNU and busybox) reads it in one go; without -z, tr makes it lines.
HANGUP_SCRIPT = """exec 2>/dev/null; m="$1"
if printf 'x\\0' | grep -qzxF x; then
  pids() { for f in $(grep -lszxF "$m" /proc/[0-9]*/environ); do
    f=${f#/proc/}; echo "${f%/environ}"; done; }
else
  pids() { for d in /proc/[0-9]*; do
    tr '\\0' '\\n' < "$d/environ" | grep -qxF "$m" && echo "${d#/proc/}"; done; }
fi
for s in HUP TERM KILL; do
  l=$(pids); [ -z "$l" ] && exit 0
  kill -s "$s" $l; sleep 1
done"""


class Refused(Exception):
    """A terminal that may not be opened now; the message says why."""


class ChannelClosed(Exception):
    """The browser's side of the channel is gone."""


class Channel(Protocol):
    """The browser's WebSocket as the relay needs it."""

    def send(self, data: bytes | str) -> None: ...  # raises ChannelClosed

    def receive(self, timeout: float) -> bytes | str | None: ...  # None: nothing in time

    def close(self) -> None: ...


# -- what to run ----------------------------------------------------------------
@dataclass(frozen=True)
class Command:
    argv: list[str]
    user: str | None = None
    workdir: str | None = None
    rows: int = 24
    cols: int = 80

    def describe(self) -> str:
        return shlex.join(self.argv)


def _size(value: str | None, default: int, what: str) -> int:
    v = (value or "").strip()
    if not v:
        return default
    if not (v.isascii() and v.isdigit()) or not 1 <= int(v) <= 1000:
        raise InputError(f"{what} must be a whole number from 1 to 1000")
    return int(v)


def parse_command(args: dict) -> Command:
    """The command from the terminal page's choices: `shell` sh (default),
    bash or custom (`argv`, split as a shell would, without running one);
    `user` (name or uid, optionally :group), `workdir` (absolute); the first
    `rows` and `cols`."""
    shell = (args.get("shell") or "sh").strip()
    if shell in SHELLS:
        argv = list(SHELLS[shell])
    elif shell == "custom":
        text = args.get("argv") or ""
        if len(text) > MAX_ARGV_TEXT:
            raise InputError(f"the command is longer than {MAX_ARGV_TEXT} characters")
        if "\x00" in text:
            raise InputError("the command holds a NUL character")
        try:
            argv = shlex.split(text)
        except ValueError as exc:
            raise InputError(f"the command cannot be split into words: {exc}") from None
        if not argv:
            raise InputError("type the command to run, such as: top -b")
        if len(argv) > MAX_ARGS:
            raise InputError(f"the command has more than {MAX_ARGS} words")
    else:
        raise InputError("choose /bin/sh, /bin/bash or a command of your own")
    user = (args.get("user") or "").strip() or None
    if user is not None and not _USER_RE.fullmatch(user):
        raise InputError("the user is a name or number, optionally :group "
                         "(letters, digits, '_', '.', '-')")
    workdir = (args.get("workdir") or "").strip() or None
    if workdir is not None:
        if not workdir.startswith("/") or len(workdir) > 1024 or any(
                c in workdir for c in "\x00\n\r"):
            raise InputError("the working directory must be an absolute path, such as /app")
    return Command(argv, user, workdir, _size(args.get("rows"), 24, "rows"),
                   _size(args.get("cols"), 80, "cols"))


def parse_control(text: str) -> tuple[int, int] | None:
    """A text frame from the browser: a resize {"type": "resize", "rows",
    "cols"} gives (rows, cols); anything else is ignored (None)."""
    if len(text) > 200:
        return None
    try:
        msg = json.loads(text)
    except ValueError:
        return None
    if not isinstance(msg, dict) or msg.get("type") != "resize":
        return None
    rows, cols = msg.get("rows"), msg.get("cols")
    if not all(isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 1000
               for v in (rows, cols)):
        return None
    return rows, cols


# -- how many ---------------------------------------------------------------------
class Slot:
    def __init__(self, release: Callable[[], None]):
        self._release = release
        self._done = False

    def release(self) -> None:
        if not self._done:
            self._done = True
            self._release()


class Slots:
    """Terminals open at once: at most `total` in all and `per_client` for one
    client address, across the workers (lock files in `folder`; in this
    process only when there is none), and at most `per_process` here."""

    def __init__(self, total: int, per_client: int, per_process: int,
                 folder: Path | None = None):
        self.total = total
        self.per_client = per_client
        self.per_process = per_process
        self.folder = Path(folder) / "terminals" if folder else None
        self._lock = threading.Lock()
        self._local: list[str] = []  # the clients of this process's open terminals

    def open_here(self) -> int:
        with self._lock:
            return len(self._local)

    def _check(self, clients: list[str], client: str) -> None:
        mine = sum(1 for c in clients if c == client)
        if mine >= self.per_client:
            raise Refused(f"You have {mine} terminal{'s' if mine != 1 else ''} open already, "
                          f"the most one client may have (PERISCOPE_TERMINALS_PER_CLIENT="
                          f"{self.per_client}). Close one, then start again.")
        if len(clients) >= self.total:
            raise Refused(f"All {self.total} terminals are in use (PERISCOPE_TERMINALS="
                          f"{self.total}). Start again when one has closed.")

    def take(self, client: str) -> Slot:
        if self.total <= 0:
            raise Refused("Terminals are off (PERISCOPE_TERMINALS=0).")
        with self._lock:
            if self.folder is None:
                self._check(self._local, client)
                fd = None
            else:
                fd = self._take_file(client)
            if len(self._local) >= self.per_process:
                if fd is not None:
                    self._free_file(fd)
                raise Refused(f"This Periscope worker has {len(self._local)} terminals open, "
                              "as many as it may while keeping threads for pages. Start again "
                              "when one has closed.")
            self._local.append(client)

        def release():
            try:
                if fd is not None:
                    self._free_file(fd)
            finally:
                self._forget(client)
        return Slot(release)

    @staticmethod
    def _free_file(fd: int) -> None:
        try:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def _forget(self, client: str) -> None:
        with self._lock:
            self._local.remove(client)

    def _take_file(self, client: str) -> int:
        d = self.folder
        d.mkdir(mode=0o700, parents=True, exist_ok=True)
        admit = os.open(d / "admit.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(admit, fcntl.LOCK_EX)  # one admission at a time, in every worker
            held: list[str] = []
            free: int | None = None
            for i in range(self.total):
                path = d / f"slot-{i}"
                fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError as exc:
                    os.close(fd)
                    if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                        raise
                    held.append(path.read_text(encoding="utf-8", errors="replace").strip())
                    continue
                if free is None:
                    free = fd
                else:
                    fcntl.flock(fd, fcntl.LOCK_UN)
                    os.close(fd)
            try:
                self._check(held, client)
            except Refused:
                if free is not None:
                    fcntl.flock(free, fcntl.LOCK_UN)
                    os.close(free)
                raise
            if free is None:  # every slot held: _check said so already
                raise Refused(f"All {self.total} terminals are in use.")
            os.ftruncate(free, 0)
            os.pwrite(free, client.encode("utf-8", "replace")[:200], 0)
            return free
        finally:
            fcntl.flock(admit, fcntl.LOCK_UN)
            os.close(admit)


# -- the relay ----------------------------------------------------------------------
LIVE: set["Terminal"] = set()
_LIVE_LOCK = threading.Lock()
_stopping: list[str] = []  # set once the worker is told to stop


def stopping(why: str) -> None:
    """The worker is stopping: every relay ends its terminal (and its
    processes) within half a second. Safe to call from a signal handler."""
    _stopping.append(why)


def end_all(why: str) -> None:
    """End every terminal of this process and wait for them (the worker exits)."""
    with _LIVE_LOCK:
        live = list(LIVE)
    for t in live:
        t.stop("shutdown", why)
    for t in live:
        t.wait_ended(HANGUP_WAIT)


def notice(kind: str, **fields) -> str:
    return json.dumps({"type": kind, **fields})


@dataclass
class Outcome:
    reason: str  # exit, missing, stopped, removed, idle, shutdown, left, error
    text: str
    code: int | None = None
    again: bool = True

    def message(self) -> str:
        return notice("end", reason=self.reason, code=self.code, text=self.text,
                      again=self.again)


def judge(command: Command, exec_info: dict | None, container: dict | None) -> Outcome:
    """What the end of the output meant: the command's exit, a command that
    could not start, or a container that stopped or went away."""
    if container is None:
        return Outcome("removed", "The container was removed while the terminal was open.",
                       again=False)
    st = container.get("State") or {}
    if not st.get("Running"):
        code = st.get("ExitCode")
        return Outcome("stopped", "The container stopped while the terminal was open"
                       + (f" (its exit code: {code})." if code is not None else "."),
                       code=None, again=False)
    if exec_info is None:
        return Outcome("exit", "The command ended; the engine no longer knows its exit code.")
    code = exec_info.get("ExitCode")
    if exec_info.get("Running"):
        return Outcome("exit", "The terminal's stream ended, though the engine still counts the "
                       "command as running.", code=None)
    if code in (126, 127) and not exec_info.get("Pid"):
        also = "".join((f", or the user {command.user} does not exist there" if command.user
                        else "", f", or {command.workdir} is not a folder there"
                        if command.workdir else ""))
        return Outcome("missing", f"{command.argv[0]} could not be started in this container "
                       f"(exit code {code}): it is not there, or not executable{also}. The "
                       "engine's words are above.", code=code)
    return Outcome("exit", f"The command ended with exit code {code}.", code=code)


class Terminal:
    """One terminal: the exec, its stream, the relay between it and the channel."""

    def __init__(self, engine: Engine, ref: str, command: Command, channel: Channel, *,
                 idle: float = 900.0, clock: Callable[[], float] = time.monotonic):
        self.engine = engine
        self.ref = ref
        self.command = command
        self.channel = channel
        self.idle = idle
        self.clock = clock
        self.exec_id: str | None = None
        self.container_id: str | None = None
        self.marker = secrets.token_hex(12)
        self._stream = None
        self._eof = threading.Event()  # the exec's output ended (seen by the pump)
        self._ended = threading.Event()  # the relay is over, the exec ended or given up
        self._send_lock = threading.Lock()
        self._reported = False
        self._gone = False  # the browser went away (seen by either thread)
        self._stop: tuple[str, str] | None = None
        self._last_in = self._last_out = 0.0
        self._stall_checked = False

    # the channel, from either thread
    def _send(self, data: bytes | str) -> bool:
        with self._send_lock:
            if self._reported:
                return False
            try:
                self.channel.send(data)
                return True
            except ChannelClosed:
                self._gone = True
                return False

    def _report(self, outcome: Outcome) -> None:
        """Say how the terminal ended, once, then close the channel."""
        with self._send_lock:
            if self._reported:
                return
            self._reported = True
            try:
                self.channel.send(outcome.message())
                self.channel.close()
            except ChannelClosed:
                pass

    # the start
    def open(self) -> None:
        """Create and start the exec. Raises Refused, or the gateway's errors."""
        c = self.engine.inspect_container(self.ref)
        self.container_id = c["Id"]
        st = c.get("State") or {}
        if st.get("Paused"):
            raise Refused("The container is paused: resume it, then start the terminal.")
        if not st.get("Running"):
            raise Refused("The container is not running: start it, then open the terminal.")
        cmd = self.command
        self.exec_id = self.engine.exec_create(
            self.container_id, cmd.argv, user=cmd.user, workdir=cmd.workdir,
            env=[f"{MARKER}={self.marker}"])
        self._stream = self.engine.exec_start(self.exec_id, console_size=(cmd.rows, cmd.cols))

    def resize(self, rows: int, cols: int) -> None:
        try:
            self.engine.exec_resize(self.exec_id, rows, cols)
        except ge.EngineError as exc:  # the command may have ended already: harmless
            log.debug("resize of exec %s: %s", self.exec_id, exc.message)

    # the relay
    def _pump_out(self) -> None:
        """Engine to browser, in a thread of its own, until the output ends
        (read to its end even once the browser is gone, so the end is seen)."""
        stream = self._stream
        try:
            while True:
                data = stream.recv(65536)
                if not data:
                    break
                self._last_out = self.clock()
                if not self._gone:
                    self._send(data)
        finally:
            self._eof.set()
        if self._stop is None and not self._gone:
            self._report(self._outcome())

    def _outcome(self) -> Outcome:
        """After the output ended by itself: the exit code, or what happened
        to the container."""
        info = None
        deadline = self.clock() + EXIT_GRACE
        while True:
            try:
                info = self.engine.exec_inspect(self.exec_id)
            except ge.NotFound:
                info = None
            except ge.EngineError as exc:
                return Outcome("error", f"The command's end could not be read: {exc.message}")
            if info is None or not info.get("Running") or self.clock() > deadline:
                break
            time.sleep(0.05)  # the exit is recorded a moment after the stream ends
        # Killed by a signal (137 is KILL): when the container's main process
        # ends, the kernel kills the rest of it, a moment before the engine
        # records the container as stopped. Give that moment.
        code = (info or {}).get("ExitCode")
        settle = self.clock() + (EXIT_GRACE if code is None or code >= 128 else 0)
        while True:
            try:
                container = self.engine.inspect_container(self.container_id)
            except ge.NotFound:
                container = None
            except ge.EngineError as exc:
                return Outcome("error", "The engine could not be asked what happened: "
                               f"{exc.message}")
            running = container and (container.get("State") or {}).get("Running")
            if not running or self.clock() > settle:
                break
            time.sleep(0.1)
        # Killed and stopped: `docker rm -f` removes it a moment later. Look
        # for that moment before saying "stopped" of a container being removed.
        gone_by = self.clock() + REMOVE_GRACE
        while (container is not None and not (container.get("State") or {}).get("Running")
               and (container.get("State") or {}).get("ExitCode") == 137
               and self.clock() < gone_by):
            time.sleep(0.1)
            try:
                container = self.engine.inspect_container(self.container_id)
            except ge.NotFound:
                container = None
            except ge.EngineError:
                break
        return judge(self.command, info, container)

    def stop(self, reason: str, text: str) -> None:
        """End the terminal from outside the relay (idle, shutdown)."""
        if self._stop is None:
            self._stop = (reason, text)

    def wait_ended(self, timeout: float) -> bool:
        return self._ended.wait(timeout)

    def run(self) -> None:
        """Relay until the command ends, the browser leaves, or the terminal
        idles out; then make sure no process of it is left running."""
        with _LIVE_LOCK:
            LIVE.add(self)
        try:
            self._last_in = self._last_out = self.clock()
            self._send(notice("started", exec=self.exec_id, command=self.command.describe()))
            pump = threading.Thread(target=self._pump_out, daemon=True,
                                    name=f"terminal-{self.exec_id[:12]}")
            pump.start()
            try:
                self._relay_in()
            finally:
                self._finish()
                pump.join(HANGUP_WAIT)
        finally:
            with _LIVE_LOCK:
                LIVE.discard(self)
            self._ended.set()

    def _relay_in(self) -> None:
        """Browser to engine, in the request's thread."""
        while not self._eof.is_set() and not self._gone and self._stop is None:
            try:
                msg = self.channel.receive(timeout=0.5)
            except ChannelClosed:
                self._gone = True
                return
            now = self.clock()
            if _stopping:
                self.stop("shutdown", _stopping[0])
                return
            if msg is None:
                if now - self._last_in > self.idle:
                    self.stop("idle", f"Closed after {self.idle:g} s without a keystroke "
                                      "(PERISCOPE_TERMINAL_IDLE).")
                elif self._stalled(now):
                    self._look_at_container()
                continue
            if isinstance(msg, (bytes, bytearray)):
                if not msg:
                    continue
                if self._last_out >= self._last_in:
                    self._stall_checked = False
                self._last_in = now
                try:
                    self._stream.send(bytes(msg))
                except ge.EngineError:
                    return  # the output ends too; the pump reports
            else:
                size = parse_control(msg)
                if size:
                    self._last_in = now
                    self.resize(*size)

    def _stalled(self, now: float) -> bool:
        return (not self._stall_checked and self._last_in > self._last_out
                and now - self._last_in > STALL)

    def _look_at_container(self) -> None:
        """Keystrokes went in and nothing came back: a paused container, or a
        stream the engine did not close. Looked at once per stall."""
        self._stall_checked = True
        try:
            c = self.engine.inspect_container(self.container_id)
        except ge.NotFound:
            self.stop("removed", "The container was removed while the terminal was open.")
            return
        except ge.EngineError:
            return
        st = c.get("State") or {}
        if st.get("Paused"):
            self._send(notice("notice", text="The container is paused: its processes are "
                                             "frozen until it is resumed."))
        elif not st.get("Running"):
            self.stop("stopped", "The container stopped while the terminal was open.")

    def _finish(self) -> None:
        if not self._eof.is_set():
            reason, text = self._stop or ("left", "The browser closed the terminal.")
            self._stop = (reason, text)
            if not self._gone:
                self._report(Outcome(reason, text, again=reason not in ("stopped", "removed")))
            self.hangup()
            if not self._eof.wait(HANGUP_WAIT):
                log.warning("the terminal's command in container %s did not end",
                            (self.container_id or "")[:12])
        if self._stream is not None:
            self._stream.close()

    def hangup(self) -> None:
        """End every process of this terminal still running in the container."""
        try:
            info = self.engine.exec_inspect(self.exec_id)
            if not info.get("Running"):
                return
            eid = self.engine.exec_create(self.container_id,
                                          ["/bin/sh", "-c", HANGUP_SCRIPT, "sh",
                                           f"{MARKER}={self.marker}"],
                                          user="0", tty=False, attach=False)
            self.engine.exec_start_detached(eid)
        except ge.NotFound:
            return  # the container (and so the command) is gone
        except ge.EngineError as exc:
            log.warning("could not end the terminal's command in container %s: %s",
                        (self.container_id or "")[:12], exc.message)


def serve(engine: Engine, ref: str, args: dict, channel: Channel, *, slots: Slots,
          client: str, idle: float, words: Callable[[ge.EngineError], str]) -> None:
    """One terminal from its first frame to its last: admission, the exec,
    the relay, the end. Every refusal is said on the channel."""
    try:
        command = parse_command(args)
    except InputError as exc:
        refuse(channel, str(exc))
        return
    try:
        slot = slots.take(client)
    except Refused as exc:
        refuse(channel, str(exc))
        return
    try:
        term = Terminal(engine, ref, command, channel, idle=idle)
        try:
            term.open()
        except Refused as exc:
            refuse(channel, str(exc), again=True)
            return
        except ge.EngineError as exc:  # `words`: the one error map's (app/errors.explain)
            refuse(channel, words(exc), reason="error")
            return
        term.run()
    finally:
        slot.release()


def refuse(channel: Channel, text: str, *, reason: str = "refused", again: bool = True) -> None:
    try:
        channel.send(Outcome(reason, text, again=again).message())
        channel.close()
    except ChannelClosed:
        pass
