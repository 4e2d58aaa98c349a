"""Fuzzing every JSON endpoint and every upload: no input gets a server error (issue 11).

Three sources of input, each short here (``EXAMPLES`` a case; ``bench/bench_fuzz.py`` runs
the long version against a served city):

- schemathesis over the served ``/api/v1/openapi.json``: positive (valid by the
  document) and negative (invalid) requests for every operation, with a token of the
  role the operation needs, so generated bodies reach the parsing and the use cases;
- our own hostile JSON bodies (``tests/fuzzbodies.py``) against every JSON endpoint:
  deep nesting, huge numbers, NaN/Infinity, duplicate keys, wrong types, odd unicode,
  nulls, huge strings, never-collected names in nested places;
- hostile files against every upload: the verify form's picture, the clerk's photo (form
  and API), and the COSE body of a recognition request.

Every answer must be below 500, and a 4xx must carry a message (JSON under /api/).
Runs on SQLite only: the database is not what is being fuzzed here.
"""

from __future__ import annotations

import base64

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cardservice.config import RegistrationSettings
from cardservice.web.openapi import openapi_document
from tests import fuzzbodies
from tests.conftest import Auth, csrf_token

EXAMPLES = 30
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                suppress_health_check=list(HealthCheck))

_PATHS = openapi_document(RegistrationSettings())["paths"]
OPERATIONS = [(method.upper(), path) for path, item in _PATHS.items()
              for method in item if method != "parameters"]
# Negative cases need something to make invalid: a path parameter or a body.
TAKES_INPUT = {(m.upper(), p) for p, item in _PATHS.items() for m, op in item.items()
               if m != "parameters" and ("parameters" in item or "requestBody" in op)}
JSON_ENDPOINTS = [(m, p) for m, p in OPERATIONS if m in ("POST", "PATCH")]

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def role_for(path: str) -> str:
    """The token that lets a request through to the use case (partners are the admin's)."""
    return "admin" if "/partners" in path else "clerk"


def assert_no_server_error(status: int, body: bytes, what: str) -> None:
    assert status < 500, f"{what}: {status} {body[:300]!r}"


@pytest.fixture
def tokens(staff):
    return {role: f"Bearer {account.token}" for role, account in staff.items()}


@pytest.mark.parametrize("mode", ["positive", "negative"])
@pytest.mark.parametrize("method, path", OPERATIONS)
def test_schemathesis_finds_no_server_error(app, tokens, method, path, mode):
    if mode == "negative" and (method, path) not in TAKES_INPUT:
        pytest.skip("no parameter or body to make invalid")
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operation = schema[path][method]
    strategy = operation.as_strategy(generation_mode=schemathesis.GenerationMode(mode))

    @FUZZ
    @given(case=strategy)
    def run(case):
        case.headers = {**(case.headers or {}), "Authorization": tokens[role_for(path)]}
        resp = case.call()
        assert_no_server_error(resp.status_code, resp.content, f"{method} {case.formatted_path}")

    run()


@pytest.mark.parametrize("method, path", JSON_ENDPOINTS)
def test_hostile_json_bodies_get_a_4xx_with_a_reason(app, tokens, method, path):
    client = app.test_client()
    concrete = path.replace("{serial}", "X").replace("{resident_id}", "0" * 24).replace(
        "{partner_id}", "FRLYS").replace("{request_id}", "0")

    @FUZZ
    @given(body=fuzzbodies.hostile_json())
    def run(body):
        resp = client.open(concrete, method=method, data=body, headers={
            "Content-Type": "application/json", "Authorization": tokens[role_for(path)]})
        assert_no_server_error(resp.status_code, resp.data, f"{method} {concrete}")
        if resp.status_code >= 400:
            assert resp.get_json()["message"]

    run()


def test_hostile_files_on_the_verify_form(app):
    client = app.test_client()

    @FUZZ
    @given(data=fuzzbodies.hostile_files(), name=st.sampled_from(["card.png", "card.pdf",
                                                                  "card.jpg", "x"]))
    def run(data, name):
        import io

        resp = client.post("/verify", data={"image": (io.BytesIO(data), name)},
                           content_type="multipart/form-data")
        assert_no_server_error(resp.status_code, resp.data, f"/verify with {data[:16]!r}")

    run()


def test_hostile_photos_through_the_api(app, tokens):
    from tests.web.test_api_residents import ANA

    client = app.test_client()

    @FUZZ
    @given(data=fuzzbodies.hostile_files())
    def run(data):
        resp = client.post("/api/v1/residents", headers={"Authorization": tokens["clerk"]},
                           json={**ANA, "photo": base64.b64encode(data).decode()})
        assert_no_server_error(resp.status_code, resp.data, f"photo {data[:16]!r}")

    run()


def test_hostile_photos_through_the_clerk_form(app, staff):
    import io

    client = app.test_client()
    Auth(client).login(staff["clerk"])
    token = csrf_token(client, "/clerk/residents/new")

    @FUZZ
    @given(data=fuzzbodies.hostile_files())
    def run(data):
        form = {"csrf_token": token, "given_names": "Ana", "family_names": "Silva",
                "date_of_birth": "1990-04-12", "address_line1": "Rua 1",
                "documents": ["passport", "utility_bill"],
                "photo": (io.BytesIO(data), "photo.jpg")}
        resp = client.post("/clerk/residents/new", data=form,
                           content_type="multipart/form-data")
        assert_no_server_error(resp.status_code, resp.data, f"clerk photo {data[:16]!r}")

    run()


def test_hostile_recognition_requests(app):
    client = app.test_client()

    @FUZZ
    @given(data=fuzzbodies.hostile_cose())
    def run(data):
        resp = client.post("/.well-known/citycard/recognition-requests", data=data,
                           headers={"Content-Type": "application/cose"})
        assert_no_server_error(resp.status_code, resp.data, f"COSE {data[:16]!r}")

    run()
