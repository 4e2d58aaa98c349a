"""The JSON API, ``/api/v1``: bearer tokens, JSON errors, described by OpenAPI."""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from cardservice.web.access import PUBLIC, api, current_user
from cardservice.web.openapi import openapi_document

bp = Blueprint("api", __name__, url_prefix="/api/v1")


@bp.get("/openapi.json")
@api(PUBLIC)
def openapi() -> ResponseReturnValue:
    """The OpenAPI 3.1 description of this API."""
    return jsonify(openapi_document())


@bp.get("/me")
@api("admin", "clerk", "agent")
def me() -> ResponseReturnValue:
    """Who this token belongs to."""
    from flask import g

    user = g.user or current_user()
    return jsonify(username=user.username, role=user.role)
