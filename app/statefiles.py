"""Small JSON files in one private folder (0700, this user's only), so every
gunicorn worker sees what another wrote: pull jobs (app/pulls.py), the last
disk usage of each engine (app/diskusage.py). Writes are atomic (a temporary
file, then a rename). No Flask."""

from __future__ import annotations

import json
import os
import secrets
import tempfile
import threading
from pathlib import Path

try:  # orjson: a disk measurement of a big host (thousands of items) in a millisecond
    from orjson import dumps as _dumps, loads as _loads
except ImportError:  # pragma: no cover - it is a dependency
    def _dumps(data) -> bytes:
        return json.dumps(data).encode()

    _loads = json.loads


class PrivateFolder:
    """A private folder holding small JSON files. Without a folder given (a
    process of its own: tests, `flask run`) one is made on first use. Never a
    guessable path in a shared /tmp that another user could create first."""

    prefix = "periscope-"

    def __init__(self, folder: Path | None = None):
        self.folder = folder
        self._lock = threading.Lock()

    def _dir(self) -> Path:
        if self.folder is None:
            with self._lock:
                if self.folder is None:
                    self.folder = Path(tempfile.mkdtemp(prefix=self.prefix))
        d = self.folder
        d.mkdir(mode=0o700, exist_ok=True)
        st = os.lstat(d)
        if not os.path.isdir(d) or os.path.islink(d) or st.st_uid != os.getuid():
            raise RuntimeError(f"{d} is not a private folder of this user")
        if st.st_mode & 0o077:
            os.chmod(d, 0o700)
        return d

    def _write(self, name: str, data) -> None:
        d = self._dir()
        tmp = d / f".{name}.{secrets.token_hex(4)}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(_dumps(data))
        os.replace(tmp, d / name)

    def _read(self, name: str):
        try:
            with open(self._dir() / name, "rb") as fh:
                return _loads(fh.read())
        except (OSError, ValueError):
            return None
