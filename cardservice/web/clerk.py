"""Clerks at the service desk: register residents, issue, print, reprint and revoke cards."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("clerk", __name__, url_prefix="/clerk")
