"""The Engine API gateway. No Flask in here: see client.py for the calls,
errors.py for what can go wrong, frames.py for the log stream format."""

from . import calls, exceptions
from .client import MAX_API_VERSION, MIN_API_VERSION, Engine, check_ref, from_env
from .hosts import Host, HostConfigError, parse_host

__all__ = ["Engine", "from_env", "check_ref", "calls", "exceptions", "Host", "HostConfigError",
           "parse_host", "MAX_API_VERSION", "MIN_API_VERSION"]
