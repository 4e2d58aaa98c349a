"""Every ``/api/v1`` route is described in the OpenAPI document, and nothing else is."""

from __future__ import annotations

import re


def openapi_paths(app) -> set[tuple[str, str]]:
    found = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1"):
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            found.add((path, method.lower()))
    return found


def test_every_api_route_is_in_openapi(app, client):
    doc = client.get("/api/v1/openapi.json").get_json()
    assert doc["openapi"].startswith("3.1")
    described = {(path, method) for path, ops in doc["paths"].items() for method in ops}
    routes = openapi_paths(app)
    assert routes - described == set(), "API routes missing from the OpenAPI document"
    assert described - routes == set(), "OpenAPI paths with no route"


def test_openapi_operations_document_their_answers(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            assert op.get("summary"), f"{method} {path} has no summary"
            assert op.get("responses"), f"{method} {path} has no responses"
