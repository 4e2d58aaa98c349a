"""The city's colour and emblem on every page: CSS variables, the emblem route, the header."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from PIL import Image

from cardservice import create_app
from cardservice.branding import contrast_ratio, ink_for
from cardservice.config import Settings
from tests.conftest import make_settings


@pytest.fixture
def branded(tmp_path: Path, settings: Settings) -> Iterator[Flask]:
    emblem = tmp_path / "emblem.png"
    Image.new("RGB", (80, 100), (180, 20, 30)).save(emblem, "PNG")
    city = make_settings(tmp_path, database_url=settings.database_url,
                         branding={"emblem": str(emblem), "colour": "#F4C430",
                                   "return_to": "Town hall, desk 3"})
    app = create_app(city, overrides={"TESTING": True, "RATELIMIT_ENABLED": False})
    yield app
    app.extensions["cardservice"].db.dispose()


def test_pages_carry_the_city_colour_and_emblem(branded: Flask) -> None:
    client = branded.test_client()
    css = client.get("/branding.css")
    assert css.status_code == 200 and css.mimetype == "text/css"
    # Saffron is light: the ink on it is black, not white.
    assert css.get_data(as_text=True) == ":root { --brand: #f4c430; --brand-ink: #000000; }\n"
    assert css.cache_control.max_age == 3600
    png = client.get("/branding/emblem")
    assert png.status_code == 200 and png.mimetype == "image/png"
    assert png.data.startswith(b"\x89PNG")
    for path in ("/", "/verify"):
        html = client.get(path).get_data(as_text=True)
        assert '<link rel="stylesheet" href="/branding.css">' in html
        assert '<img src="/branding/emblem" alt=""' in html


def test_without_an_emblem_the_header_has_none_and_the_route_is_404(app: Flask) -> None:
    client = app.test_client()
    assert client.get("/branding/emblem").status_code == 404
    assert "/branding/emblem" not in client.get("/").get_data(as_text=True)
    assert "--brand: #1c4066; --brand-ink: #ffffff;" in client.get(
        "/branding.css").get_data(as_text=True)


def test_emblem_removed_after_the_check_stops_the_start(tmp_path: Path,
                                                       settings: Settings) -> None:
    from cardservice.config import ConfigError

    emblem = tmp_path / "emblem.png"
    Image.new("RGB", (10, 10)).save(emblem, "PNG")
    city = make_settings(tmp_path, database_url=settings.database_url,
                         branding={"emblem": str(emblem)})
    emblem.unlink()
    with pytest.raises(ConfigError, match="branding.emblem: cannot read"):
        create_app(city)


@pytest.mark.parametrize("colour", ["#000000", "#ffffff", "#1c4066", "#f4c430", "#777777",
                                    "#00a651", "#e30613"])
def test_ink_on_the_city_colour_reads_at_wcag_aa(colour: str) -> None:
    assert contrast_ratio(colour, ink_for(colour)) >= 4.5
