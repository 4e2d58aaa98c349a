"""The OpenAPI 3.1 description of ``/api/v1``; every endpoint joins it (a test checks)."""

from __future__ import annotations

from typing import Any

ERROR = {"$ref": "#/components/schemas/Error"}


def _err(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": ERROR}}}


RESIDENT_IN = {
    "type": "object",
    "description": "Never send immigration status, nationality, place of birth, ID numbers or "
                   "document copies: such fields are refused with 400 (error 'not_collected').",
    "properties": {
        "given_names": {"type": "string", "maxLength": 80},
        "family_names": {"type": "string", "maxLength": 80},
        "preferred_name": {"type": "string"},
        "name_latin": {"type": "string", "description": "Latin transliteration for the card"},
        "date_of_birth": {"type": "string", "format": "date"},
        "gender": {"enum": ["F", "M", "X", None]},
        "address": {"type": "object", "properties": {
            "line1": {"type": "string"}, "line2": {"type": "string"},
            "postcode": {"type": "string"}, "care_of": {"type": "string"},
            "no_fixed_address": {"type": "boolean"}, "confidential": {"type": "boolean"}}},
        "languages": {"type": "array", "items": {"type": "string"}, "maxItems": 2},
        "contact": {"$ref": "#/components/schemas/Contact"},
        "emergency_contact": {"$ref": "#/components/schemas/Contact"},
        "documents": {"type": "array", "items": {"type": "string"},
                      "description": "categories of documents seen (city setting)"},
        "fee_waiver": {"type": ["string", "null"]},
        "photo": {"type": "string", "contentEncoding": "base64"},
        "confirm_new": {"type": "boolean"},
    },
}
CARD_STATUS = {"type": "object", "properties": {
    "serial": {"type": "string"}, "resident_id": {"type": "string"},
    "issued_at": {"type": "string", "format": "date-time"},
    "expires_at": {"type": "string", "format": "date-time"},
    "status": {"enum": ["active", "superseded", "revoked"]},
    "revoked_at": {"type": ["string", "null"]}, "revocation_reason": {"type": ["string", "null"]},
    "superseded_by": {"type": ["string", "null"]}}}


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
    "kind": {"enum": ["renew", "lost", "stolen", "damaged", "change"]},
    "created_at": {"type": "string"}, "decided_at": {"type": ["string", "null"]},
    "reject_reason": {"type": ["string", "null"]}}}

PATHS: dict[str, dict[str, Any]] = {
    "/api/v1/renewals": {"post": {
        "summary": "A resident asks for renewal or replacement (no account)",
        "security": [{}],
        "requestBody": {"required": True, **_json({"type": "object",
                        "required": ["serial", "date_of_birth", "renewal_code"], "properties": {
                            "serial": {"type": "string"},
                            "date_of_birth": {"type": "string", "format": "date"},
                            "renewal_code": {"type": "string"},
                            "kind": {"enum": ["renew", "lost", "stolen", "damaged", "change"],
                                     "default": "renew"},
                            "changes": {"type": "object", "description":
                                        "for kind=change: address, gender, preferred_name"}}})},
        "responses": {"202": {"description": "Filed", **_json({"type": "object", "properties": {
                          "id": {"type": "string"}, "status": {"const": "pending"}}})},
                      "403": _err("Serial, date of birth and code do not match (which part is "
                                  "never said)"),
                      "409": _err("Outside the renewal window, or a request is already pending"),
                      "429": _err("Too many attempts for this card or from this client")}}},
    "/api/v1/renewals/{request_id}": {"get": {
        "summary": "A request's status (the id is an unguessable capability)",
        "security": [{}],
        "responses": {"200": {"description": "Status", **_json(RENEWAL_STATUS)},
                      "404": _err("No such request")}}},
    "/api/v1/partners": {
        "post": {"summary": "Recognise a partner city by URL and fingerprint (admin)",
                 "requestBody": {"required": True, **_json({"type": "object",
                                 "required": ["url", "fingerprint"], "properties": {
                                     "url": {"type": "string"},
                                     "fingerprint": {"type": "string"}}})},
                 "responses": {"201": {"description": "Pinned", **_json(PARTNER)},
                               "400": _err("Malformed URL or fingerprint"),
                               "409": _err("Already a partner"),
                               "422": _err("Refused: fingerprint mismatch, expired or invalid "
                                           "documents; nothing stored"),
                               "502": _err("The partner could not be reached")}},
        "get": {"summary": "Partner cities and their last sync (admin)",
                "responses": {"200": {"description": "Partners", **_json({
                    "type": "object", "properties": {"partners": {"type": "array",
                                                                  "items": PARTNER}}})}}}},
    "/api/v1/partners/{partner_id}/sync": {"post": {
        "summary": "Fetch and check a partner's bundle and revocation list now (admin)",
        "responses": {"200": {"description": "Accepted", **_json(PARTNER)},
                      "404": _err("No such partner"),
                      "422": _err("Refused (rollback, expired, bad signature); stored trust "
                                  "unchanged"),
                      "502": _err("The partner could not be reached")}}},
    "/api/v1/verify": {"post": {
        "summary": "Verify a card's QR text (public unless verify.require_login)",
        "security": [{}, {"bearer": []}],
        "requestBody": {"required": True, **_json({"type": "object", "required": ["qr"],
                        "properties": {"qr": {"type": "string"}}})},
        "responses": {"200": {"description": "The verdict, whatever the card", **_json(
                          VERIFY_RESULT)},
                      "400": _err("The body is not JSON or has no 'qr'"),
                      "429": _err("Too many checks from this client; see Retry-After")}}},
    "/api/v1/residents": {"post": {
        "summary": "Register a resident (clerk)",
        "requestBody": {"required": True, **_json(RESIDENT_IN)},
        "responses": {
            "201": {"description": "Registered", **_json({"type": "object", "properties": {
                "id": {"type": "string"}}})},
            "400": _err("Bad input, or a field the service never collects"),
            "401": _err("No valid token"), "403": _err("Not a clerk"),
            "409": _err("A likely duplicate; send confirm_new: true to register anyway"),
        }}},
    "/api/v1/residents/{resident_id}": {
        "get": {"summary": "A resident's record and cards (clerk)",
                "responses": {"200": {"description": "The record"},
                              "404": _err("No such resident")}},
        "patch": {"summary": "Correct a resident's record (clerk)",
                  "requestBody": {"required": True, **_json(RESIDENT_IN)},
                  "responses": {"200": {"description": "The corrected record"},
                                "400": _err("Bad input"), "404": _err("No such resident")}},
    },
    "/api/v1/residents/{resident_id}/cards": {"post": {
        "summary": "Issue a card; supersedes the resident's earlier cards (clerk)",
        "responses": {
            "201": {"description": "Issued", **_json({"type": "object", "properties": {
                "serial": {"type": "string"}, "qr": {"type": "string"},
                "issued_at": {"type": "string"}, "expires_at": {"type": "string"},
                "renewal_code": {"type": "string"}}})},
            "404": _err("No such resident")}}},
    "/api/v1/cards/{serial}": {"get": {
        "summary": "A card's status (clerk)",
        "responses": {"200": {"description": "Status", **_json(CARD_STATUS)},
                      "404": _err("No such card")}}},
    "/api/v1/cards/{serial}/pdf": {"get": {
        "summary": "The printable card, two ID-1 pages (clerk)",
        "responses": {"200": {"description": "PDF", "content": {"application/pdf": {}}},
                      "404": _err("No such card, or its holder's record was deleted")}}},
    "/api/v1/cards/{serial}/revoke": {"post": {
        "summary": "Revoke a card (clerk)",
        "requestBody": {"required": True, **_json({"type": "object", "required": ["reason"],
                        "properties": {"reason": {"enum": ["lost", "stolen", "damaged",
                                                           "withdrawn"]}}})},
        "responses": {"200": {"description": "The card's new status", **_json(CARD_STATUS)},
                      "400": _err("Unknown reason"), "404": _err("No such card"),
                      "409": _err("Already revoked")}}},
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
                "Contact": {"type": "object", "properties": {
                    "name": {"type": "string"}, "email": {"type": "string"},
                    "phone": {"type": "string"}}},
                "Error": {
                    "type": "object",
                    "required": ["error", "message"],
                    "properties": {"error": {"type": "string"}, "message": {"type": "string"}},
                }
            },
        },
    }
