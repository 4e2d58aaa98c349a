"""Names in other scripts at the desk: a Latin line proposed on the form, fonts the server lacks.

Real app, real form posts with CSRF tokens, real keys and PDFs. A missing font is simulated
the way a city would misconfigure it: ``[cards] font_dirs`` pointing at an empty directory.
"""

from __future__ import annotations

import html
import re

import pytest

from cardservice import cardtext
from tests.conftest import copy_keys, make_settings
from tests.web.test_api_residents import ANA as API_ANA
from tests.web.test_clerk import ANA, issue, register, registered


@pytest.fixture
def clerk(client, auth, staff):
    """The test client, signed in as a clerk."""
    auth.login(staff["clerk"])
    return client


@pytest.fixture(autouse=True)
def _default_font_dirs():
    # The font search path is process-wide: leave it as the other tests expect it.
    yield
    cardtext.set_font_dirs(cardtext.DEFAULT_FONT_DIRS)


def _field_value(page: str, name: str) -> str:
    m = re.search(rf'<input[^>]*name="{name}"[^>]*>', page)
    assert m, f"no input {name}"
    value = re.search(r'value="([^"]*)"', m.group(0))
    return html.unescape(value.group(1)) if value else ""


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_form_proposes_a_latin_line_and_the_clerk_confirms_it(clerk):
    data = {**ANA, "given_names": "राम", "family_names": "शर्मा"}
    first = register(clerk, data)
    assert first.status_code == 400
    page = first.get_data(as_text=True)
    # The Latin line comes back filled with the proposal, and a message asks to check it.
    assert _field_value(page, "name_latin") == "Ram Srma"
    assert "Check the name in Latin letters with the resident" in html.unescape(page)
    # The clerk corrects it with the resident and saves again: registered, card issued.
    rid = registered(clerk, data={**data, "name_latin": "Ram Sharma"})
    serial = issue(clerk, rid)
    pdf = clerk.get(f"/clerk/cards/{serial}.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_latin_name_needs_no_latin_line(clerk):
    assert register(clerk, ANA).status_code == 302


class TestWithoutFonts:
    """A city whose font search path is empty: every non-Latin script lacks its font."""

    @pytest.fixture
    def settings(self, tmp_path, db, keys_template):
        """A city whose font search path holds no font: every non-Latin script lacks its own."""
        copy_keys(keys_template, tmp_path / "keys")
        empty = tmp_path / "no-fonts"
        empty.mkdir()
        return make_settings(tmp_path, database_url=db.url, cards={"font_dirs": [str(empty)]})


    @pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
    def test_a_missing_font_is_a_clear_form_error(self, clerk):
        data = {**ANA, "given_names": "राम", "family_names": "शर्मा", "name_latin": "Ram Sharma"}
        resp = register(clerk, data)
        assert resp.status_code == 400
        page = html.unescape(resp.get_data(as_text=True))
        assert "Names in Devanagari need the font package fonts-noto-core" in page
        # Latin names still print with the bundled fonts.
        assert register(clerk, ANA).status_code == 302


    @pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
    @pytest.mark.parametrize(("given", "script", "package"), [
        ("王小明", "CJK (Chinese, Japanese, Korean)", "fonts-droid-fallback"),
        ("محمد", "Arabic", "fonts-noto-core"),
    ])
    def test_a_missing_font_is_a_400_in_the_api(self, client, staff, given, script, package):
        clerk = {"Authorization": f"Bearer {staff['clerk'].token}"}
        body = {**API_ANA, "given_names": given, "name_latin": "Latin Line"}
        resp = client.post("/api/v1/residents", json=body, headers=clerk)
        assert resp.status_code == 400
        answer = resp.get_json()
        assert answer["error"] == "font_missing" and answer["field"] == "given_names"
        assert f"Names in {script} need the font package {package}" in answer["message"]
