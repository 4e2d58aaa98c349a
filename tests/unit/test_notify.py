"""The request notice e-mail is written in the resident's language."""

from __future__ import annotations

import pytest

from cardservice.services.notify import build_notice


@pytest.mark.parametrize(("locale", "subject"), [
    ("en", "Your card request in Lisboa"),
    ("fr", "Votre demande de carte à Lisboa"),
])
def test_notice_in_the_residents_language(locale: str, subject: str) -> None:
    msg = build_notice(sender="desk@city.example", to="r@example.org", city_name="Lisboa",
                       status_url="https://city.example/card/requests/abc", approved=True,
                       locale=locale)
    assert msg["Subject"] == subject
    assert "https://city.example/card/requests/abc" in msg.get_content()
