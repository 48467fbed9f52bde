"""The terminal's WebSocket (simple-websocket, which flask-sock serves) as
app/terminalrelay.py wants a channel: send, receive with a timeout, close,
each raising relay.ChannelClosed when the browser is gone. No Flask here."""

from __future__ import annotations

import socket as so
import threading

from simple_websocket import ConnectionClosed

from .terminalrelay import ChannelClosed


class DaemonThread(threading.Thread):
    """simple-websocket's reader thread, as a daemon: one whose browser is
    gone must not hold a stopping worker up."""

    def __init__(self, *args, **kwargs):
        kwargs["daemon"] = True
        super().__init__(*args, **kwargs)


class Channel:
    """A simple-websocket Server as a relay channel."""

    def __init__(self, ws):
        self.ws = ws
        if getattr(ws.sock, "family", None) in (so.AF_INET, so.AF_INET6):
            ws.sock.setsockopt(so.IPPROTO_TCP, so.TCP_NODELAY, 1)  # a keystroke's echo is small

    def send(self, data):
        try:
            self.ws.send(data)
        except (ConnectionClosed, OSError) as exc:
            raise ChannelClosed() from exc

    def receive(self, timeout):
        try:
            return self.ws.receive(timeout=timeout)
        except (ConnectionClosed, OSError) as exc:
            raise ChannelClosed() from exc

    def close(self):
        try:
            self.ws.close()
        except (ConnectionClosed, OSError) as exc:
            raise ChannelClosed() from exc

    def shut(self) -> None:
        """The close frame is on its way; this wakes simple-websocket's reader now."""
        try:
            self.ws.sock.shutdown(so.SHUT_RDWR)
        except OSError:
            pass
