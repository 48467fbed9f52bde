"""A terminal in a container: the page, and its WebSocket.

The WebSocket is served by flask-sock (simple-websocket underneath, on
wsproto): under gunicorn's gthread worker it takes the request's socket over
in the request's own thread, so it needs no other server, worker class or
event loop beside the pages. Security checks of the handshake (Origin, CSRF
token, session, read-only) run before it is accepted, in app/security.py;
everything after is app/terminalrelay.py. This view only relays.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app, render_template, request, url_for
from flask_sock import Sock

from .. import terminalrelay as relay
from ..wschannel import Channel, DaemonThread
from ..errors import explain
from ..security import WS_PROTOCOL, changes_state
from ..web import EngineBlueprint, engine, engine_entry, settings

bp = EngineBlueprint("terminal", __name__)
sock = Sock()


@bp.record_once
def _init(state) -> None:
    app = state.app
    st = app.extensions["periscope.settings"]
    app.config.setdefault("SOCK_SERVER_OPTIONS", {
        "subprotocols": [WS_PROTOCOL],
        "thread_class": DaemonThread,
        "ping_interval": 25,  # a browser that vanished is noticed within a minute
        "max_message_size": 1 << 16,  # a paste of 64 KiB at most per frame
    })
    app.extensions["periscope.terminals"] = relay.Slots(
        st.terminal_cap, st.terminals_per_client, max(1, st.threads // 2),
        st.state_dir)


def slots() -> relay.Slots:
    return current_app.extensions["periscope.terminals"]


def why_off() -> str | None:
    """Why no terminal can be opened from this page, or None."""
    if engine_entry().read_only:
        return ("Terminals are off: Periscope runs read-only here (PERISCOPE_READ_ONLY=1, or "
                "read_only for this engine in the engines file), and a command run in a "
                "terminal can change anything in the container.")
    if slots().total <= 0:
        return ("Terminals are off (PERISCOPE_TERMINALS=0, or PERISCOPE_THREADS too low to "
                "spare a thread for one).")
    if not request.environ.get("wsgi.multithread"):
        return ("Terminals need a threaded server (the periscope command runs gunicorn's gthread "
                "worker): each open terminal holds a thread.")
    return None


@bp.get("/containers/<ref>/terminal")
def index(ref: str):
    c = engine().inspect_container(ref)
    ws = urlsplit(url_for("terminal.socket", ref=c["Id"])).path
    return render_template("terminal/index.html", c=c, name=c.get("Name", "").lstrip("/"),
                           why_off=why_off(), ws_path=ws, shells=relay.SHELLS,
                           idle=settings().terminal_idle)


def _words(exc) -> str:
    x = explain(exc)
    return f"{x.title}: {x.message}"


@sock.route("/containers/<ref>/terminal/ws", bp=bp)
@changes_state
def socket(ws, ref: str):
    channel = Channel(ws)
    try:
        reason = why_off()
        if reason:
            relay.refuse(channel, reason, again=False)
            return
        relay.serve(engine(), ref, request.args, channel, slots=slots(),
                       client=request.remote_addr or "?", idle=settings().terminal_idle,
                       words=_words)
    finally:
        channel.shut()
