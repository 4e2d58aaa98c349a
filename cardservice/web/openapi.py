"""The OpenAPI 3.1 description of ``/api/v1``; every endpoint joins it (a test checks).

It validates (``openapi-spec-validator``, tested on the served document) and describes what
the API enforces: every path parameter, required field and enumeration. The city's own
choices (document categories and their points, fee waivers, the photo budget) come from its
settings, so the served document enumerates this city's categories.
"""

from __future__ import annotations

import copy
from typing import Any

from cardservice import safejson, values
from cardservice.application import RENEWAL_CHANGE_FIELDS, RENEWAL_KINDS, REVOCATION_REASONS
from cardservice.config import RegistrationSettings

ERROR = {"$ref": "#/components/schemas/Error"}
NON_BLANK = "\\S"  # at least one character that is not white space


def _err(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": ERROR}}}


def _body_errors(*, max_bytes: str = f"{safejson.MAX_BYTES} bytes") -> dict[str, Any]:
    """The answers every JSON body may get before its own checks run."""
    return {
        "400": _err("Bad input, named in 'field' and the message: not a JSON object, nested "
                    f"more than {safejson.MAX_DEPTH} levels, NaN or Infinity, a duplicate key, "
                    "a bad value, or a field the service never collects (error "
                    "'not_collected', SPEC §2)"),
        "413": _err(f"The body is larger than {max_bytes}"),
    }


def _param(name: str, description: str, **schema: Any) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "description": description,
            "schema": {"type": "string", **schema}}


PARAMETERS = {
    "serial": _param("serial", "A card serial: 11 letters and digits, the last a check "
                     "character (dashes and spaces as printed are accepted)", maxLength=32),
    "resident_id": _param("resident_id", "A resident's id, as registration returned it",
                          maxLength=64),
    "request_id": _param("request_id", "A renewal request's id (an unguessable capability)",
                         maxLength=64),
    "partner_id": _param("partner_id", "A partner city's id (e.g. FRLYS)", maxLength=16),
}


def _uses(*names: str) -> list[dict[str, str]]:
    return [{"$ref": f"#/components/parameters/{n}"} for n in names]


NAME = {"type": ["string", "null"], "maxLength": values.MAX_NAME_PART_LENGTH}
ADDRESS = {
    "type": "object", "additionalProperties": False,
    "properties": {
        "line1": {"type": ["string", "null"], "maxLength": 120},
        "line2": {"type": ["string", "null"], "maxLength": 120},
        "postcode": {"type": ["string", "null"], "maxLength": 16},
        "care_of": {"type": ["string", "null"], "maxLength": 120},
        "no_fixed_address": {"type": "boolean"}, "confidential": {"type": "boolean"}},
}
ADDRESS_GIVEN = {"anyOf": [  # an address, a care-of address, or "no fixed address"
    {"required": ["line1"], "properties": {"line1": {"type": "string", "pattern": NON_BLANK}}},
    {"required": ["care_of"], "properties": {"care_of": {"type": "string",
                                                         "pattern": NON_BLANK}}},
    {"required": ["no_fixed_address"], "properties": {"no_fixed_address": {"const": True}}}]}
NAME_ORDER = {
    "enum": [*(o.value for o in values.NAME_ORDERS), None],
    "default": values.NameOrder.GIVEN_FIRST.value,
    "description": "In which order the name is written, and so printed on the card, shown and "
                   "carried in the card's QR code: 'family_first' for names written family "
                   "name first (Vietnamese, Chinese, Korean, Japanese, Hungarian...), "
                   "'given_first' otherwise. Absent or null: given names first (records made "
                   "before this field existed are read so)."}
LANGUAGES = {
    "type": ["array", "null"], "maxItems": 2,
    "items": {"type": "string", "minLength": 2, "maxLength": 64},
    "description": "The languages the resident speaks, at most two (the card prints them, "
                   "named in the card's languages). Each is a BCP 47 tag: a primary language "
                   "subtag CLDR knows, optionally with a region ('vi', 'ti', 'pt-BR', "
                   "'es-419'); records and answers hold these codes. For clients of the "
                   "earlier free-text field, a language's name in English, French, "
                   "Portuguese, Spanish or Arabic ('Vietnamese', 'vietnamien', 'Português') is "
                   "accepted too and stored as its code; anything else is refused with 400. "
                   "Records made before codes may still hold the free text typed then: it is "
                   "returned as stored until the record is next corrected, when it is mapped "
                   "to a code where recognisable."}
GENDER = {"enum": [*values.GENDERS, "", None],
          "description": "the marker printed on the card; empty or null for none"}


def _resident_in(reg: RegistrationSettings, *, registration: bool) -> dict[str, Any]:
    """A resident's record as sent: a registration (with what it requires) or a correction."""
    categories = sorted(reg.documents)
    points = ", ".join(f"{c}: {reg.documents[c]}" for c in categories)
    document = {"oneOf": [
        {"enum": categories},
        {"type": "object", "additionalProperties": False, "required": ["category"],
         "properties": {"category": {"enum": categories},
                        "points": {"type": "integer",
                                   "description": "ignored: the city's points apply"}}}]}
    schema: dict[str, Any] = {
        "type": "object",
        "additionalProperties": False,
        "description": "Never send immigration status, nationality, place of birth, ID numbers "
                       "or document numbers or copies: such fields are refused with 400 (error "
                       "'not_collected'), in nested objects and list items too. Fields not "
                       "listed here are refused.",
        "properties": {
            "given_names": NAME, "family_names": NAME, "preferred_name": NAME,
            "name_latin": {**NAME, "description": (
                "The name in Latin letters, printed under the name for agents who do not "
                "read its script. Required when a name part holds letters of another script "
                "than Latin: without it the request is refused with 400, error "
                "'name_latin_proposed', field 'name_latin' and a transliteration in "
                "'proposal' (ICAO 9303 for Cyrillic, anyascii otherwise) to check with the "
                "resident and send back, corrected or not. A script whose font the server "
                "lacks is refused with 400, error 'font_missing', naming the script and the "
                "package to install.")},
            "name_order": NAME_ORDER,
            "date_of_birth": {"type": "string", "format": "date"},
            "gender": GENDER,
            "address": ADDRESS | ({} if not registration else ADDRESS_GIVEN),
            "languages": LANGUAGES,
            "contact": {"$ref": "#/components/schemas/Contact"},
            "emergency_contact": {"$ref": "#/components/schemas/Contact"},
            "documents": {
                "type": "array", "items": document, "uniqueItems": False,
                "description": f"Categories of the documents seen and handed back (this city: "
                               f"{points}); together at least {reg.points_needed} point(s). "
                               "Never a document's number, copy or scan."},
            "fee_waiver": {"enum": [*reg.fee_waivers, "", None]},
            "photo": {"type": ["string", "null"], "contentEncoding": "base64",
                      "description": f"a JPEG, PNG or WebP image of at most "
                                     f"{reg.photo_max_bytes} bytes"},
            "confirm_new": {"type": "boolean",
                            "description": "register even though a likely duplicate exists"},
        },
    }
    if registration:
        schema["required"] = ["date_of_birth", "address"] + (
            ["documents"] if reg.points_needed > 0 else [])
        schema["anyOf"] = [  # at least one name; a single name is fine
            {"required": ["given_names"], "properties": {"given_names": {
                "type": "string", "pattern": NON_BLANK}}},
            {"required": ["family_names"], "properties": {"family_names": {
                "type": "string", "pattern": NON_BLANK}}}]
    return schema


def _resident_limit(reg: RegistrationSettings) -> str:
    return f"{reg.photo_max_bytes * 4 // 3 + safejson.MAX_BYTES} bytes (a photo's budget)"


CARD_STATUS = {"type": "object", "properties": {
    "serial": {"type": "string"}, "resident_id": {"type": "string"},
    "issued_at": {"type": "string", "format": "date-time"},
    "expires_at": {"type": "string", "format": "date-time"},
    "status": {"enum": ["active", "superseded", "revoked"]},
    "revoked_at": {"type": ["string", "null"]}, "revocation_reason": {"type": ["string", "null"]},
    "superseded_by": {"type": ["string", "null"]},
    "printed_at": {"type": ["string", "null"], "format": "date-time"}}}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


VERIFY_RESULT = {"type": "object", "required": ["valid", "status", "trust_data_age_seconds"],
                 "properties": {
    "valid": {"type": "boolean"},
    "status": {"enum": ["valid", "expired", "not_yet_valid", "revoked", "bad_signature",
                        "unknown_issuer", "unknown_key", "malformed", "partner_suspended",
                        "trust_expired"]},
    "issuer": {"type": "object", "properties": {"id": {"type": "string"},
                                                "name": {"type": "string"},
                                                "own": {"type": "boolean"}}},
    "card": {"type": "object", "properties": {"serial": {"type": "string"},
                                              "issued_at": {"type": "string"},
                                              "expires_at": {"type": "string"}}},
    "holder": {"type": "object", "description": "only when the signature checked out",
               "properties": {"name": {"type": "string"},
                              "date_of_birth": {"type": "string", "format": "date"}}},
    "trust_data_age_seconds": {"type": ["integer", "null"]},
    "warnings": {"type": "array", "items": {"enum": ["revocations_stale"]},
                 "description": "present only when not empty"}}}

PARTNER = {"type": "object", "properties": {
    "id": {"type": "integer"}, "city_id": {"type": "string"}, "name": {"type": "string"},
    "base_url": {"type": "string"}, "fingerprint": {"type": "string"},
    "status": {"enum": ["active", "suspended"]}, "bundle_version": {"type": "integer"},
    "bundle_expires_at": {"type": "string"}, "revocations_sequence": {"type": ["integer", "null"]},
    "last_sync_at": {"type": ["string", "null"]}, "last_sync_result": {"type": ["string", "null"]}}}
RENEWAL_STATUS = {"type": "object", "properties": {
    "id": {"type": "string"}, "status": {"enum": ["pending", "approved", "rejected"]},
    "kind": {"enum": list(RENEWAL_KINDS)},
    "created_at": {"type": "string"}, "decided_at": {"type": ["string", "null"]},
    "reject_reason": {"type": ["string", "null"]}}}
RENEWAL_IN = {
    "type": "object", "required": ["serial", "date_of_birth", "renewal_code"],
    "description": "Never-collected fields are refused here too (error 'not_collected').",
    "properties": {
        "serial": {"type": "string", "maxLength": 32},
        "date_of_birth": {"type": "string", "format": "date"},
        "renewal_code": {"type": "string", "maxLength": 32},
        "kind": {"enum": list(RENEWAL_KINDS), "default": "renew"},
        "changes": {"type": ["object", "null"], "additionalProperties": False,
                    "description": "for kind=change: what the resident asks to change",
                    "properties": {"address": ADDRESS, "gender": GENDER,
                                   "preferred_name": NAME},
                    "propertyNames": {"enum": list(RENEWAL_CHANGE_FIELDS)}}}}
CLERK_ONLY = {"401": _err("No valid token"), "403": _err("Not a clerk")}
ADMIN_ONLY = {"401": _err("No valid token"), "403": _err("Not an admin")}


def _paths(reg: RegistrationSettings) -> dict[str, dict[str, Any]]:
    registration = _resident_in(reg, registration=True)
    correction = _resident_in(reg, registration=False)
    resident_errors = _body_errors(max_bytes=_resident_limit(reg))
    return {
        "/api/v1/renewals": {"post": {
            "summary": "A resident asks for renewal or replacement (no account)",
            "security": [{}],
            "requestBody": {"required": True, **_json(RENEWAL_IN)},
            "responses": {
                "202": {"description": "Filed", **_json({"type": "object", "properties": {
                    "id": {"type": "string"}, "status": {"const": "pending"}}})},
                **_body_errors(),
                "403": _err("Serial, date of birth and code do not match (which part is "
                            "never said)"),
                "409": _err("Outside the renewal window, or a request is already pending"),
                "429": _err("Too many attempts for this card or from this client")}}},
        "/api/v1/renewals/{request_id}": {
            "parameters": _uses("request_id"),
            "get": {
                "summary": "A request's status (the id is an unguessable capability)",
                "security": [{}],
                "responses": {"200": {"description": "Status", **_json(RENEWAL_STATUS)},
                              "404": _err("No such request")}}},
        "/api/v1/partners": {
            "post": {"summary": "Recognise a partner city by URL and fingerprint (admin)",
                     "requestBody": {"required": True, **_json({
                         "type": "object", "required": ["url", "fingerprint"], "properties": {
                             "url": {"type": "string", "maxLength": 2000,
                                     "description": "the partner's base URL (http or https)"},
                             "fingerprint": {"type": "string", "maxLength": 200}}})},
                     "responses": {"201": {"description": "Pinned", **_json(PARTNER)},
                                   **_body_errors(), **ADMIN_ONLY,
                                   "409": _err("Already a partner"),
                                   "422": _err("Refused: fingerprint mismatch, expired or "
                                               "invalid documents; nothing stored"),
                                   "502": _err("The partner could not be reached")}},
            "get": {"summary": "Partner cities and their last sync (admin)",
                    "responses": {"200": {"description": "Partners", **_json({
                        "type": "object", "properties": {"partners": {
                            "type": "array", "items": PARTNER}}})}, **ADMIN_ONLY}}},
        "/api/v1/partners/{partner_id}/sync": {
            "parameters": _uses("partner_id"),
            "post": {
                "summary": "Fetch and check a partner's bundle and revocation list now (admin)",
                "responses": {"200": {"description": "Accepted", **_json(PARTNER)},
                              **ADMIN_ONLY, "404": _err("No such partner"),
                              "422": _err("Refused (rollback, expired, bad signature); stored "
                                          "trust unchanged"),
                              "502": _err("The partner could not be reached")}}},
        "/api/v1/verify": {"post": {
            "summary": "Verify a card's QR text (public unless verify.require_login)",
            "security": [{}, {"bearer": []}],
            "requestBody": {"required": True, **_json({
                "type": "object", "required": ["qr"], "properties": {"qr": {
                    "type": "string", "description": "the card's text, LC1:…; "
                                                     "only its first 4096 characters are read"}}})},
            "responses": {"200": {"description": "The verdict, whatever the card",
                                  **_json(VERIFY_RESULT)},
                          **_body_errors(),
                          "401": _err("verify.require_login is set and no agent signed in"),
                          "403": _err("verify.require_login is set and this is not an agent"),
                          "429": _err("Too many checks from this client; see Retry-After")}}},
        "/api/v1/residents": {"post": {
            "summary": "Register a resident (clerk)",
            "requestBody": {"required": True, **_json(registration)},
            "responses": {
                "201": {"description": "Registered", **_json({"type": "object", "properties": {
                    "id": {"type": "string"}}})},
                **resident_errors, **CLERK_ONLY,
                "409": _err("A likely duplicate; send confirm_new: true to register anyway"),
            }}},
        "/api/v1/residents/{resident_id}": {
            "parameters": _uses("resident_id"),
            "get": {"summary": "A resident's record and cards (clerk)",
                    "responses": {"200": {"description": "The record"}, **CLERK_ONLY,
                                  "404": _err("No such resident")}},
            "patch": {"summary": "Correct a resident's record; only the fields sent change "
                                 "(clerk)",
                      "requestBody": {"required": True, **_json(correction)},
                      "responses": {"200": {"description": "The corrected record"},
                                    **resident_errors, **CLERK_ONLY,
                                    "404": _err("No such resident")}},
        },
        "/api/v1/residents/{resident_id}/cards": {
            "parameters": _uses("resident_id"),
            "post": {
                "summary": "Issue a card; supersedes the resident's earlier cards (clerk)",
                "responses": {
                    "201": {"description": "Issued", **_json({
                        "type": "object", "properties": {
                            "serial": {"type": "string"}, "qr": {"type": "string"},
                            "issued_at": {"type": "string"}, "expires_at": {"type": "string"},
                            "renewal_code": {"type": "string"}}})},
                    **CLERK_ONLY, "404": _err("No such resident")}}},
        "/api/v1/cards/{serial}": {
            "parameters": _uses("serial"),
            "get": {"summary": "A card's status (clerk)",
                    "responses": {"200": {"description": "Status", **_json(CARD_STATUS)},
                                  **CLERK_ONLY, "404": _err("No such card")}}},
        "/api/v1/cards/{serial}/pdf": {
            "parameters": _uses("serial"),
            "get": {"summary": "The printable card, two ID-1 pages (clerk); reading it records "
                               "nothing",
                    "responses": {"200": {"description": "PDF",
                                          "content": {"application/pdf": {}}},
                                  **CLERK_ONLY,
                                  "404": _err("No such card, or its holder's record was "
                                              "deleted")}}},
        "/api/v1/cards/{serial}/printed": {
            "parameters": _uses("serial"),
            "post": {"summary": "Record that the card was printed and checked (clerk)",
                     "responses": {"200": {"description": "The card's status",
                                           **_json(CARD_STATUS)},
                                   **CLERK_ONLY, "404": _err("No such card"),
                                   "409": _err("The card is not active")}}},
        "/api/v1/cards/{serial}/revoke": {
            "parameters": _uses("serial"),
            "post": {
                "summary": "Revoke a card (clerk)",
                "requestBody": {"required": True, **_json({
                    "type": "object", "required": ["reason"],
                    "properties": {"reason": {"enum": list(REVOCATION_REASONS)}}})},
                "responses": {"200": {"description": "The card's new status",
                                      **_json(CARD_STATUS)},
                              **_body_errors(), **CLERK_ONLY, "404": _err("No such card"),
                              "409": _err("Already revoked")}}},
        "/api/v1/openapi.json": {"get": {
            "summary": "This document",
            "security": [{}],
            "responses": {"200": {"description": "The OpenAPI description"}}}},
        "/api/v1/me": {"get": {
            "summary": "The account an API token belongs to",
            "responses": {
                "200": {"description": "The account", **_json({
                    "type": "object",
                    "properties": {"username": {"type": "string"},
                                   "role": {"enum": ["admin", "clerk", "agent"]}}})},
                "401": _err("No token, or an unknown or revoked one")}}},
    }


def openapi_document(registration: RegistrationSettings) -> dict[str, Any]:
    """The whole document, for a city with these registration settings."""
    return copy.deepcopy({
        "openapi": "3.1.0",
        "info": {
            "title": "cardservice API",
            "version": "1",
            "description": "Register residents, issue and verify local citizenship cards. "
                           "Errors are {\"error\": code, \"message\": sentence, "
                           "\"field\": name} with a 4xx status.",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": _paths(registration),
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "parameters": PARAMETERS,
            "schemas": {
                "Contact": {"type": ["object", "null"], "additionalProperties": False,
                            "properties": {
                                "name": {"type": ["string", "null"], "maxLength": 80},
                                "email": {"type": ["string", "null"], "maxLength": 254},
                                "phone": {"type": ["string", "null"], "maxLength": 24}}},
                "Error": {
                    "type": "object",
                    "required": ["error", "message"],
                    "properties": {"error": {"type": "string"}, "message": {"type": "string"},
                                   "field": {"type": "string"},
                                   "proposal": {"type": "string", "description": (
                                       "with error 'name_latin_proposed': a Latin "
                                       "transliteration of the name to check and send "
                                       "back as 'name_latin'")}},
                },
            },
        },
    })
