"""app/terminalrelay.py without an engine: what to run, resize frames, how an end
is told, the caps (in one process and across processes sharing a folder, a
crashed holder included), the hangup script on this machine's /proc, the
settings, and the vendored xterm files."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from app.config import Settings
from app.params import InputError
from app.terminalrelay import (HANGUP_SCRIPT, MARKER, Command, Refused, Slots, judge, parse_command,
                          parse_control)

ROOT = Path(__file__).resolve().parents[2]


# -- what to run ---------------------------------------------------------------------
def test_the_default_is_bin_sh_with_its_size():
    c = parse_command({})
    assert c.argv == ["/bin/sh"] and (c.rows, c.cols) == (24, 80) and c.user is None
    assert parse_command({"shell": "bash", "rows": "40", "cols": "120"}) == Command(
        ["/bin/bash"], rows=40, cols=120)


def test_an_argv_is_split_as_a_shell_would_without_running_one():
    c = parse_command({"shell": "custom", "argv": "sh -c 'echo $HOME; ls' \"a b\"",
                       "user": "1000:1000", "workdir": "/srv/app"})
    assert c.argv == ["sh", "-c", "echo $HOME; ls", "a b"]
    assert (c.user, c.workdir) == ("1000:1000", "/srv/app")
    assert c.describe() == "sh -c 'echo $HOME; ls' 'a b'"
    # the argv is ignored unless "custom" is chosen
    assert parse_command({"shell": "sh", "argv": "rm -rf /"}).argv == ["/bin/sh"]


@pytest.mark.parametrize("args, words", [
    ({"shell": "custom", "argv": "  "}, "type the command"),
    ({"shell": "custom", "argv": "echo 'open"}, "cannot be split"),
    ({"shell": "custom", "argv": "a\x00b"}, "NUL"),
    ({"shell": "custom", "argv": "x " * 70}, "more than 64 words"),
    ({"shell": "custom", "argv": "x" * 5000}, "longer than"),
    ({"shell": "zsh"}, "choose /bin/sh"),
    ({"user": "root; rm"}, "the user is a name"),
    ({"user": "-u"}, "the user is a name"),
    ({"workdir": "tmp"}, "absolute path"),
    ({"workdir": "/a\nb"}, "absolute path"),
    ({"rows": "0"}, "rows must be"),
    ({"cols": "1001"}, "cols must be"),
    ({"cols": "ten"}, "cols must be"),
])
def test_bad_choices_say_what_to_fix(args, words):
    with pytest.raises(InputError, match=words):
        parse_command(args)


def test_only_a_well_formed_resize_is_taken_from_text_frames():
    assert parse_control('{"type": "resize", "rows": 30, "cols": 100}') == (30, 100)
    for text in ('{"type": "resize", "rows": 0, "cols": 100}',
                 '{"type": "resize", "rows": true, "cols": 100}',
                 '{"type": "resize", "rows": "30", "cols": 100}',
                 '{"type": "input", "data": "rm -rf /"}', "[]", "not json", "{" * 300):
        assert parse_control(text) is None, text


# -- how an end is told ------------------------------------------------------------------
def running(**state):
    return {"State": {"Running": True, **state}}


def test_judge_tells_the_kinds_of_end_apart():
    sh = Command(["/bin/sh"])
    assert judge(sh, {"Running": False, "ExitCode": 3, "Pid": 42}, running()).code == 3
    out = judge(Command(["/bin/bash"]), {"Running": False, "ExitCode": 126, "Pid": 0}, running())
    assert out.reason == "missing" and "/bin/bash could not be started" in out.text
    # 127 with a PID is the command's own "not found" (a shell's), an ordinary exit
    assert judge(sh, {"Running": False, "ExitCode": 127, "Pid": 9}, running()).reason == "exit"
    stopped = judge(sh, {"Running": False, "ExitCode": 137, "Pid": 9},
                    {"State": {"Running": False, "ExitCode": 0}})
    assert stopped.reason == "stopped" and stopped.again is False
    gone = judge(sh, None, None)
    assert gone.reason == "removed" and gone.again is False
    assert judge(sh, None, running()).reason == "exit"  # the exec was forgotten already


# -- the caps --------------------------------------------------------------------------
def test_caps_in_one_process():
    s = Slots(total=3, per_client=2, per_process=8)
    a1, a2 = s.take("10.0.0.1"), s.take("10.0.0.1")
    with pytest.raises(Refused, match="You have 2 terminals open already"):
        s.take("10.0.0.1")
    b = s.take("10.0.0.2")
    with pytest.raises(Refused, match="All 3 terminals are in use"):
        s.take("10.0.0.3")
    a1.release()
    a1.release()  # twice is once
    s.take("10.0.0.3")
    assert s.open_here() == 3
    for slot in (a2, b):
        slot.release()


def test_the_per_process_cap_keeps_threads_for_pages(tmp_path):
    s = Slots(total=10, per_client=20, per_process=2, folder=tmp_path)
    s.take("c"), s.take("c")
    with pytest.raises(Refused, match="keeping threads for pages"):
        s.take("c")
    # the refused one did not keep a shared slot: another worker may still take 8
    other = Slots(total=10, per_client=20, per_process=10, folder=tmp_path)
    kept = [other.take("c") for _ in range(8)]
    with pytest.raises(Refused, match="All 10"):
        other.take("c")
    for k in kept:
        k.release()


def test_terminals_off():
    with pytest.raises(Refused, match="PERISCOPE_TERMINALS=0"):
        Slots(total=0, per_client=2, per_process=4).take("c")


def test_workers_share_the_caps_through_the_folder(tmp_path):
    w1 = Slots(total=2, per_client=1, per_process=4, folder=tmp_path)
    w2 = Slots(total=2, per_client=1, per_process=4, folder=tmp_path)
    s1 = w1.take("10.0.0.1")
    with pytest.raises(Refused, match="You have 1 terminal open already"):
        w2.take("10.0.0.1")
    s2 = w2.take("10.0.0.2")
    with pytest.raises(Refused, match="All 2 terminals"):
        w1.take("10.0.0.3")
    s1.release()
    w2.take("10.0.0.3").release()
    s2.release()
    assert oct(os.stat(tmp_path / "terminals").st_mode & 0o777) == "0o700"


def test_a_crashed_worker_frees_its_slots(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; sys.path.insert(0, sys.argv[2]);"
         "from app.terminalrelay import Slots; s = Slots(1, 1, 1, sys.argv[1]).take('x');"
         "print('held', flush=True); time.sleep(60)", str(tmp_path), str(ROOT)],
        stdout=subprocess.PIPE)
    try:
        assert holder.stdout.readline().strip() == b"held"
        with pytest.raises(Refused, match="All 1"):
            Slots(1, 5, 1, tmp_path).take("y")
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(10)
    Slots(1, 5, 1, tmp_path).take("y").release()  # the kernel dropped the dead one's lock


# -- the hangup -------------------------------------------------------------------------
NEEDS_PIDNS = pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("sh"),
    reason="runs the script in a PID namespace of its own (root, unshare, sh), as in a container")


@NEEDS_PIDNS
@pytest.mark.parametrize("grep", ["with -z", "without -z"])
def test_the_hangup_script_ends_exactly_the_marked_processes(grep, tmp_path):
    """In a PID namespace with its own /proc (a container's view): a marked
    shell and what it started end; a process whose marker only starts the
    same, and an unmarked one, do not."""
    mark = f"{MARKER}=unit-{os.getpid()}"
    (tmp_path / "hangup.sh").write_text(HANGUP_SCRIPT)
    path = os.environ["PATH"]
    if grep == "without -z":  # an older grep: the script reads environ through tr
        fake = tmp_path / "grep"
        fake.write_text(f'#!/bin/sh\ncase "$1" in *z*) exit 2;; esac\nexec {shutil.which("grep")} "$@"\n')
        fake.chmod(0o755)
        path = f"{tmp_path}:{path}"
    inside = f"""
env {mark} sh -c 'sleep 300 & sleep 301; wait' &
env {mark}x sleep 302 &
sleep 303 &
sleep 0.3
sh {tmp_path}/hangup.sh {mark}
sleep 0.2
for d in /proc/[0-9]*; do [ "$d" = /proc/1 ] || echo "$(tr '\\0' ' ' < $d/cmdline)"; done
"""
    out = subprocess.run(["unshare", "--pid", "--fork", "--mount-proc", "sh", "-c", inside],
                         env={"PATH": path}, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    left = out.stdout
    assert "sleep 300" not in left and "sleep 301" not in left, left
    assert "sleep 302" in left and "sleep 303" in left, left


# -- settings ---------------------------------------------------------------------------
def test_terminal_settings():
    s = Settings.from_env({})
    assert (s.terminal_cap, s.terminals_per_client, s.terminal_idle) == (4, 2, 900.0)
    assert s.terminal_refusal() is None
    assert Settings.from_env({"PERISCOPE_THREADS": "2"}).terminal_cap == 1
    assert Settings.from_env({"PERISCOPE_THREADS": "1"}).terminal_cap == 0
    off = Settings.from_env({"PERISCOPE_TERMINALS": "0"})
    assert off.terminal_cap == 0 and off.terminal_refusal() is None
    many = Settings.from_env({"PERISCOPE_TERMINALS": "5"})
    assert "at most 4" in many.terminal_refusal()
    assert Settings.from_env({"PERISCOPE_TERMINALS": "5", "PERISCOPE_THREADS": "10"}
                             ).terminal_refusal() is None
    with pytest.raises(ValueError, match="PERISCOPE_TERMINAL_IDLE"):
        Settings.from_env({"PERISCOPE_TERMINAL_IDLE": "soon"})
    with pytest.raises(ValueError, match="PERISCOPE_TERMINALS_PER_CLIENT"):
        Settings.from_env({"PERISCOPE_TERMINALS_PER_CLIENT": "0"})


# -- the vendored files ---------------------------------------------------------------------
def test_xterm_is_the_recorded_version():
    d = ROOT / "static/vendor/xterm"
    recorded = (d / "VERSION.md").read_text()
    for name in ("xterm.js", "xterm.css", "addon-fit.js"):
        assert hashlib.sha256((d / name).read_bytes()).hexdigest() in recorded, name
    assert "@xterm/xterm@6.0.0" in recorded and "@xterm/addon-fit@0.11.0" in recorded
    assert (d / "LICENSE").exists() and (d / "LICENSE.addon-fit").exists()
