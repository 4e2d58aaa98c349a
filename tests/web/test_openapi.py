"""Every ``/api/v1`` route is described in the OpenAPI document, and nothing else is."""

from __future__ import annotations

import re

METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


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
    described = {(path, method) for path, ops in doc["paths"].items() for method in ops
                 if method in METHODS}
    routes = openapi_paths(app)
    assert routes - described == set(), "API routes missing from the OpenAPI document"
    assert described - routes == set(), "OpenAPI paths with no route"


def test_openapi_operations_document_their_answers(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            if method not in METHODS:
                continue  # path-level "parameters"
            assert op.get("summary"), f"{method} {path} has no summary"
            assert op.get("responses"), f"{method} {path} has no responses"


def test_the_served_document_validates(client):
    # Issue 11, finding 16: eight operations used path parameters the document never declared.
    from openapi_spec_validator import validate

    validate(client.get("/api/v1/openapi.json").get_json())


def test_every_path_parameter_is_declared(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    components = doc["components"]["parameters"]
    for path, item in doc["paths"].items():
        used = set(re.findall(r"{(\w+)}", path))
        declared = {components[p["$ref"].rsplit("/", 1)[1]]["name"]
                    for p in item.get("parameters", [])}
        assert used == declared, path


def test_registration_documents_what_the_api_enforces(client, settings):
    doc = client.get("/api/v1/openapi.json").get_json()
    reg = doc["paths"]["/api/v1/residents"]["post"]["requestBody"]["content"][
        "application/json"]["schema"]
    assert {"date_of_birth", "address", "documents"} <= set(reg["required"])
    assert reg["additionalProperties"] is False
    categories = sorted(settings.registration.documents)
    items = reg["properties"]["documents"]["items"]["oneOf"]
    assert items[0]["enum"] == categories
    assert items[1]["properties"]["category"]["enum"] == categories
    assert items[1]["additionalProperties"] is False  # a document's number is refused
    revoke = doc["paths"]["/api/v1/cards/{serial}/revoke"]["post"]["requestBody"]
    assert revoke["content"]["application/json"]["schema"]["properties"]["reason"]["enum"] == [
        "lost", "stolen", "damaged", "withdrawn"]


def test_a_registration_valid_by_the_schema_is_accepted(client, staff, settings):
    # The schema is not stricter or looser than the API on an ordinary record.
    import jsonschema

    from tests.web.test_api_residents import ANA

    doc = client.get("/api/v1/openapi.json").get_json()
    schema = doc["paths"]["/api/v1/residents"]["post"]["requestBody"]["content"][
        "application/json"]["schema"]
    resolver_doc = {**schema, "$defs": {}, "components": doc["components"]}
    validator = jsonschema.Draft202012Validator(
        {**resolver_doc}, format_checker=jsonschema.FormatChecker())
    body = {**ANA, "documents": ["passport", {"category": "utility_bill"}]}
    assert list(validator.iter_errors(body)) == []
    bad = {**body, "documents": [{"category": "passport", "number": "X1"}]}
    assert list(validator.iter_errors(bad)) != []
    headers = {"Authorization": f"Bearer {staff['clerk'].token}"}
    assert client.post("/api/v1/residents", json=body, headers=headers).status_code == 201
    assert client.post("/api/v1/residents", json=bad, headers=headers).status_code == 400
