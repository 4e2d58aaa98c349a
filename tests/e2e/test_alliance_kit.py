"""The offline verification kit names an alliance member's alliance (issue 16).

A city (the application on the test database, real keys) holds an alliance list and a
member's signed documents; its kit, opened from disk in an offline browser, checks the
member's card from those documents and says which alliance vouches for the issuer.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cardservice import verifykit
from cardservice.application import Application
from cardservice.clock import utcnow
from tests.application.test_alliances import Member, _found
from tests.e2e.test_verify_kit import KitPage

pytestmark = pytest.mark.browser


@pytest.fixture
def holder(settings: Any) -> Iterator[Application]:
    app = Application(settings)
    yield app
    app.db.dispose()


def test_kit_checks_a_member_card_and_names_the_alliance(
        holder: Application, browser: Any, tmp_path: Path) -> None:
    others = {cid: Member(cid, name) for cid, name in
              (("FRLYS", "Lyon"), ("ESMAD", "Madrid"), ("ITROM", "Roma"))}
    _found(holder, others)
    madrid = others["ESMAD"]
    holder.alliances.import_member_documents("migration", "ESMAD", bundle=madrid.bundle(),
                                             revocations=madrid.revocations("ABCDEFGHJK2"),
                                             actor="admin")
    path = tmp_path / "kit.html"
    kit = holder.verifier.offline_kit(now=utcnow())
    path.write_bytes(verifykit.render_kit(kit, locale="en", include_decoder=False))
    page = KitPage(browser, path)
    try:
        verdict = page.check(madrid.card("ABCDEFGHJK1"))
        assert verdict.get_attribute("data-status") == "valid"
        assert "Madrid (member of the alliance migration)" in verdict.inner_text()
        assert page.check(madrid.card("ABCDEFGHJK2")).get_attribute("data-status") == "revoked"
        assert page.errors == []
    finally:
        page.close()
