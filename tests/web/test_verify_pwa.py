"""The installable verifier's server side: manifest, service worker, pinned roots (issue 12)."""

from __future__ import annotations

import base64
import hashlib
import json
import re

from cryptography.hazmat.primitives.serialization import Encoding

from cardservice.services.citykeys import CityKeys


def test_service_worker_is_served_for_the_verify_scope(client) -> None:
    resp = client.get("/verify-sw.js")
    assert resp.status_code == 200
    assert resp.mimetype == "text/javascript"
    assert resp.headers["Cache-Control"] == "no-cache"
    assert resp.headers["Service-Worker-Allowed"] == "/verify"
    body = resp.get_data(as_text=True)
    version = re.search(r'const VERSION = "([0-9a-f]{16})";', body)
    assert version is not None
    assets = json.loads(re.search(r"const ASSETS = (\[.*?\]);", body).group(1))
    assert "/verify" in assets and "/static/vendor/zxing-wasm/reader/zxing_reader.wasm" in assets
    for path in assets:  # every file the worker installs exists (or install would fail)
        answer = client.get(path)
        assert answer.status_code == 200, path
        answer.close()
    # The same release and city give the same cache name.
    assert version.group(1) in client.get("/verify-sw.js").get_data(as_text=True)


def test_manifest_names_the_city_and_stays_in_scope(client, settings) -> None:
    resp = client.get("/verify/manifest.webmanifest")
    assert resp.status_code == 200 and resp.mimetype == "application/manifest+json"
    manifest = resp.get_json(force=True)
    assert settings.city.name in manifest["name"]
    assert manifest["start_url"] == manifest["scope"] == "/verify"
    assert manifest["display"] == "standalone"
    assert any(i["src"] == "/static/favicon.svg" for i in manifest["icons"])
    page = client.get("/verify").get_data(as_text=True)
    assert '<link rel="manifest" href="/verify/manifest.webmanifest">' in page


def test_page_pins_the_city_root_and_trust_data_carries_signed_documents(client,
                                                                         settings) -> None:
    page = client.get("/verify").get_data(as_text=True)
    pins = json.loads(re.search(r'<script type="application/json" id="verify-pins">(.*?)</script>',
                                page, re.S).group(1))
    root = CityKeys(settings).store.root_certificate()
    assert pins == [{"id": settings.city.id, "name": settings.city.name, "own": True,
                     "suspended": False,
                     "root_sha256": hashlib.sha256(root.public_bytes(Encoding.DER)).hexdigest()}]
    assert f'data-max-age-hours="{settings.verify.revocations_max_age_hours}"' in page
    data = client.get("/verify/trust-data.json").get_json()
    (doc,) = data["documents"]
    assert doc["id"] == settings.city.id
    published = {"bundle": client.get("/.well-known/citycard/trust-bundle").data,
                 "revocations": client.get("/.well-known/citycard/revocations").data}
    for name, raw in published.items():
        assert base64.urlsafe_b64decode(doc[name] + "=" * (-len(doc[name]) % 4)) == raw
