"""Flask extensions, created unbound; ``init_app`` binds them per application."""

from __future__ import annotations

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf import CSRFProtect

csrf = CSRFProtect()
# Limits are declared per route; storage is Redis when configured, memory otherwise.
limiter = Limiter(key_func=get_remote_address, default_limits=[])
