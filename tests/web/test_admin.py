"""Administrators' pages: the city's keys, the audit log, staff accounts."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from cardservice.application import city as city_module
from cardservice.clock import utcnow
from tests.conftest import Auth, csrf_token
from tests.htmlcheck import assert_ids_unique


@pytest.fixture
def admin(app, staff):
    client = app.test_client()
    Auth(client).login(staff["admin"])
    return client


def city_app(app):
    return app.extensions["cardservice"]


def text_of(resp) -> str:
    return resp.get_data(as_text=True)


# ---- keys ----------------------------------------------------------------------------------

def test_keys_page_shows_fingerprint_periods_and_states(app, admin):
    overview = city_app(app).city.overview()
    html = text_of(admin.get("/admin/keys"))
    fingerprint = overview.fingerprint
    assert len(fingerprint.split(" ")) == 16  # grouped for reading over the phone
    assert f"<code>{fingerprint}</code>" in html
    (key,) = overview.signing
    assert key.state == "current" and key.kid in html
    assert "Current: signs cards now" in html
    # The signing period and the end of verification, as dates in the page's language.
    assert str(key.signs_until.year) in html and str(key.valid_until.year) in html
    assert overview.warnings == () and 'role="alert"' not in html
    # Public facts only: no key material of any kind.
    assert "PRIVATE" not in html and "BEGIN" not in html
    assert_ids_unique(html)


def test_keys_page_warns_before_the_signing_key_stops_signing(app, admin, monkeypatch):
    (key,) = city_app(app).city.overview().signing
    soon = key.signs_until - timedelta(days=10, hours=1)
    monkeypatch.setattr(city_module, "utcnow", lambda: soon)  # the clock, moved on
    overview = city_app(app).city.overview()
    assert [(w.kind, w.days_left) for w in overview.warnings] == [("signing_ends", 10)]
    html = text_of(admin.get("/admin/keys"))
    assert 'role="alert"' in html and "in 10 days. Rotate it before then." in html
    # Outside the threshold (30 days by default): no warning.
    monkeypatch.setattr(city_module, "utcnow", lambda: key.signs_until - timedelta(days=31))
    assert city_app(app).city.overview().warnings == ()


def test_the_warning_threshold_is_configurable(tmp_path, db, keys_template):
    from cardservice.application import Application
    from tests.conftest import copy_keys, make_settings

    copy_keys(keys_template, tmp_path / "keys")
    settings = make_settings(tmp_path, database_url=db.url, keys={"expiry_warning_days": 400})
    overview = Application(settings, db=db).city.overview()
    assert overview.warning_days == 400
    assert [w.kind for w in overview.warnings] == ["signing_ends"]


def test_keys_page_when_no_key_can_sign(app, admin, monkeypatch):
    (key,) = city_app(app).city.overview().signing
    monkeypatch.setattr(city_module, "utcnow", lambda: key.signs_until + timedelta(days=1))
    html = text_of(admin.get("/admin/keys"))
    assert "No signing key can sign cards now" in html
    assert "Retired: signs no more" in html


def test_rotating_the_signing_key_needs_confirmation(app, admin):
    before = city_app(app).city.overview()
    confirm = admin.get("/admin/keys/rotate")
    assert confirm.status_code == 200
    html = text_of(confirm)
    assert "What happens:" in html and "Yes, rotate the signing key" in html
    assert_ids_unique(html)
    # The keys page itself only links to the confirmation page; it never rotates.
    assert 'href="/admin/keys/rotate"' in text_of(admin.get("/admin/keys"))
    # A post without the form's token changes nothing.
    refused = admin.post("/admin/keys/rotate", data={})
    assert refused.status_code == 400
    assert city_app(app).city.overview().signing == before.signing
    token = csrf_token(admin, "/admin/keys/rotate")
    done = admin.post("/admin/keys/rotate", data={"csrf_token": token}, follow_redirects=True)
    html = text_of(done)
    after = city_app(app).city.overview()
    assert [k.state for k in after.signing] == ["current", "retired"]
    assert after.fingerprint == before.fingerprint
    assert f"A new signing key ({after.signing[0].kid}) signs cards from now on" in html
    entries = city_app(app).staff.audit_entries(limit=5)
    assert entries[0].action == "keys.rotate" and entries[0].actor == "admin1"
    assert city_app(app).staff.verify_audit().entries == len(
        city_app(app).staff.audit_entries(limit=1000))


def test_rotating_the_root_needs_confirmation(app, admin):
    before = city_app(app).city.overview()
    html = text_of(admin.get("/admin/keys/rotate-root"))
    assert "The city's fingerprint changes" in html and "Yes, rotate the city root" in html
    token = csrf_token(admin, "/admin/keys/rotate-root")
    done = text_of(admin.post("/admin/keys/rotate-root", data={"csrf_token": token},
                              follow_redirects=True))
    after = city_app(app).city.overview()
    assert after.fingerprint != before.fingerprint
    assert after.fingerprint in done and "The city has a new root key" in done
    assert city_app(app).staff.audit_entries(limit=1)[0].action == "keys.rotate_root"


@pytest.mark.parametrize("path", ["/admin/keys", "/admin/keys/rotate", "/admin/keys/rotate-root"])
def test_keys_pages_are_for_admins_only(app, staff, path):
    for role in ("clerk", "agent"):
        client = app.test_client()
        Auth(client).login(staff[role])
        assert client.get(path).status_code == 403
        token = csrf_token(client, "/")
        if path != "/admin/keys":
            assert client.post(path, data={"csrf_token": token}).status_code == 403
    assert city_app(app).staff.audit_entries(limit=1)[0].action == "user.login"


# ---- staff accounts ------------------------------------------------------------------------

def test_staff_page_ids_are_unique(admin):
    html = text_of(admin.get("/admin/users"))
    assert len(re.findall(r'name="csrf_token"', html)) > 3
    assert_ids_unique(html)


# ---- audit log -----------------------------------------------------------------------------

def add_entries(app, entries):
    """Append audit entries directly: (actor, action, target_type, target_id, at)."""
    from cardservice.services import audit

    with city_app(app).uow() as s:
        for actor, action, target_type, target_id, at in entries:
            audit.record(s, actor=actor, action=action, target_type=target_type,
                         target_id=target_id, now=at)


def table_body(html: str) -> str:
    m = re.search(r"<tbody>(.*?)</tbody>", html, re.S)
    return m.group(1) if m else ""


def test_audit_log_reads_as_words_not_codes(app, admin):
    now = utcnow()
    add_entries(app, [
        ("resident", "request.create", "request", "7", now),
        ("system", "user.locked", "user", "3", now),
        ("cli:root", "keys.rotate", "signing_key", "ab12", now),
        ("admin1", "future.action", "thing", "x1", now),
    ])
    html = text_of(admin.get("/admin/audit"))
    body = table_body(html)
    # The staff fixture made accounts and tokens: known actions read as sentences.
    for label in ("Created a staff account", "Created an API token",
                  "Asked for a renewal or replacement", "Rotated the signing key"):
        assert label in body
    for code in ("user.create", "token.create", "request.create", "keys.rotate"):
        assert code not in body
    # Who: a resident, the system, the command line, a staff username.
    for who in ("Resident (no account)", "System", "Command line (root)", "admin1"):
        assert who in body
    assert "Staff account <code class=\"small\">#3</code>" in body
    # An action without a label yet shows its code rather than nothing.
    assert "<code>future.action</code>" in body
    assert 'class="stack audit"' in html and 'data-label="Who"' in html
    assert_ids_unique(html)


def test_audit_log_shows_card_numbers_as_printed(app, admin):
    add_entries(app, [("clerk1", "card.issue", "card", "7KQ2M9XR4TV", utcnow())])
    body = table_body(text_of(admin.get("/admin/audit?action=card.issue")))
    assert "7KQ2-M9XR-4TV" in body and "7KQ2M9XR4TV" not in body


def test_audit_log_filters_by_action_actor_and_dates(app, admin):
    now = utcnow().replace(hour=12)
    add_entries(app, [
        ("clerk1", "card.issue", "card", "PTLIS-OLD", now - timedelta(days=10)),
        ("clerk1", "card.revoke", "card", "PTLIS-MID", now - timedelta(days=5)),
        ("clerk2", "card.revoke", "card", "PTLIS-NEW", now),
    ])
    by_action = table_body(text_of(admin.get("/admin/audit?action=card.revoke")))
    assert "PTLIS-MID" in by_action and "PTLIS-NEW" in by_action
    assert "PTLIS-OLD" not in by_action and "Created a staff account" not in by_action
    by_actor = table_body(text_of(admin.get("/admin/audit?actor=clerk1")))
    assert "PTLIS-OLD" in by_actor and "PTLIS-MID" in by_actor and "PTLIS-NEW" not in by_actor
    day = (now - timedelta(days=5)).date().isoformat()
    one_day = text_of(admin.get(f"/admin/audit?since={day}&until={day}"))
    assert "PTLIS-MID" in table_body(one_day)
    assert "PTLIS-OLD" not in one_day and "PTLIS-NEW" not in one_day
    assert "Showing 1 to 1 of 1 entry." in one_day
    since = text_of(admin.get(f"/admin/audit?since={day}&actor=clerk1&action=card.revoke"))
    assert "Showing 1 to 1 of 1 entry." in since
    nothing = text_of(admin.get("/admin/audit?actor=nobody"))
    assert "No entry matches these filters." in nothing and "<tbody>" not in nothing


@pytest.mark.parametrize("query, message", [
    ("since=not-a-date", "Not a valid date"),
    ("since=2026-05-02&until=2026-05-01", "The end date is before the start date."),
])
def test_audit_log_refuses_bad_filters(admin, query, message):
    resp = admin.get(f"/admin/audit?{query}")
    assert resp.status_code == 400 and message in text_of(resp)
    assert 'aria-invalid="true"' in text_of(resp)


def test_audit_log_pages_keep_the_filter(app, admin):
    now = utcnow()
    add_entries(app, [("clerk1", "card.print", "card", f"PTLIS-{i:04d}",
                       now + timedelta(seconds=i)) for i in range(120)]
                + [("clerk1", "card.issue", "card", "PTLIS-ISSUED", now)])
    first = text_of(admin.get("/admin/audit?action=card.print"))
    assert "Showing 1 to 50 of 120 entries." in first
    assert "PTLIS-0119" in first and "PTLIS-0070" in first and "PTLIS-0069" not in first
    assert "Newer entries" not in first
    older = re.search(r'href="(/admin/audit\?[^"]*before=\d+[^"]*)"', first).group(1)
    assert "action=card.print" in older
    second = text_of(admin.get(older.replace("&amp;", "&")))
    assert "Showing 51 to 100 of 120 entries." in second
    assert "PTLIS-0069" in second and "PTLIS-0020" in second and "PTLIS-0070" not in second
    newer = re.search(r'href="(/admin/audit\?[^"]*after=\d+[^"]*)"', second).group(1)
    back = text_of(admin.get(newer.replace("&amp;", "&")))
    assert "Showing 1 to 50 of 120 entries." in back and "PTLIS-0119" in back
    last = re.search(r'href="(/admin/audit\?[^"]*before=\d+[^"]*)"', second).group(1)
    third = text_of(admin.get(last.replace("&amp;", "&")))
    assert "Showing 101 to 120 of 120 entries." in third and "Older entries" not in third
    assert "PTLIS-ISSUED" not in first + second + third
    # The chain still verifies with the new indexes in place.
    from cardservice.application import AuditQuery

    everything = city_app(app).staff.audit_page(AuditQuery(), size=1)
    assert everything.total > 121 and everything.position == 1
    assert city_app(app).staff.verify_audit().entries == everything.total
