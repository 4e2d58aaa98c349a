"""The demo city's residents: cards to open, one revoked, one request queued; seeded once."""

from __future__ import annotations

from pathlib import Path

from cardservice.application import Application
from cardservice.cardtext import set_font_dirs
from cardservice.clock import utcnow
from cardservice.config import DEFAULT_FONT_DIRS, Settings
from cardservice.db import Database
from cardservice.demo_seed import DEMO_ADDRESS, PEOPLE, seed
from tests.conftest import copy_keys, make_settings


def test_demo_seed_makes_cards_a_revoked_one_and_a_request_once(settings: Settings) -> None:
    app = Application(settings)
    try:
        seeded = seed(app)
        assert seeded is not None and "revoked" in seeded.lines()[0]
        assert seeded.lines()[-1] == seeded.clerk_password
        signed = app.staff.sign_in(username="clerk", password=seeded.clerk_password,
                                   source="127.0.0.1")
        assert signed.member.role == "clerk"
        assert app.residents.count() == len(PEOPLE) == len(seeded.cards)
        queue = app.renewals.pending(limit=10)
        requests, total = queue.items, queue.total
        assert total == 1 and requests[0].request.kind == "damaged"
        assert requests[0].request.serial == seeded.queued
        assert requests[0].holder_name == "Amadou Diallo" and requests[0].has_photo
        for card in seeded.cards:
            view = app.residents.get(app.cards.get(card.serial).resident_id)
            assert view.data.address.line1 == DEMO_ADDRESS
            assert app.residents.photo(view.id) is not None
            status = app.verifier.verify(card.qr, now=utcnow()).status
            assert status == ("revoked" if card.serial == seeded.revoked else "valid")
        # The Vietnamese resident's name is written, printed and signed family name first.
        names = [app.verifier.verify(c.qr, now=utcnow()).holder_name for c in seeded.cards]
        assert "Nguyễn Thị Minh Khai" in names
        assert seed(app) is None  # a second `make run` adds no one
        assert app.residents.count() == len(PEOPLE)
    finally:
        app.close()


def test_without_a_scripts_font_the_demo_leaves_that_resident_out_and_says_why(
        tmp_path: Path, db: Database, keys_template: Path) -> None:
    """`make run` on a machine without fonts-noto-core still serves a demo city."""
    copy_keys(keys_template, tmp_path / "keys")
    (tmp_path / "no-fonts").mkdir()
    settings = make_settings(tmp_path, database_url=db.url,
                             cards={"font_dirs": [str(tmp_path / "no-fonts")]})
    app = Application(settings)
    try:
        seeded = seed(app)
        assert seeded is not None
        assert app.residents.count() == len(PEOPLE) - 1 == len(seeded.cards)
        [why] = seeded.skipped
        assert "حداد" in why and "Arabic" in why and "fonts-noto-core" in why
        assert f"== left out: {why}" in seeded.lines()
    finally:
        app.close()
        set_font_dirs(DEFAULT_FONT_DIRS)
