"""The OpenAPI 3.1 description of ``/api/v1``; every endpoint joins it (a test checks)."""

from __future__ import annotations

from typing import Any

ERROR = {"$ref": "#/components/schemas/Error"}


def _err(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": ERROR}}}


PATHS: dict[str, dict[str, Any]] = {
    "/api/v1/openapi.json": {
        "get": {
            "summary": "This document",
            "security": [],
            "responses": {"200": {"description": "The OpenAPI description"}},
        }
    },
    "/api/v1/me": {
        "get": {
            "summary": "The account an API token belongs to",
            "responses": {
                "200": {"description": "The account",
                        "content": {"application/json": {"schema": {
                            "type": "object",
                            "properties": {"username": {"type": "string"},
                                           "role": {"enum": ["admin", "clerk", "agent"]}},
                        }}}},
                "401": _err("No token, or an unknown or revoked one"),
            },
        }
    },
}


def openapi_document() -> dict[str, Any]:
    """The whole document."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "cardservice API",
            "version": "1",
            "description": "Register residents, issue and verify local citizenship cards. "
                           "Errors are {\"error\": code, \"message\": sentence} with a 4xx status.",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": PATHS,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error", "message"],
                    "properties": {"error": {"type": "string"}, "message": {"type": "string"}},
                }
            },
        },
    }
