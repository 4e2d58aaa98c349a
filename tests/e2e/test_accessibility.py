"""axe-core finds no serious or critical violation on the public pages, in both colours.

Clerk and admin pages are checked in tests/e2e/test_clerk_day.py, page by page along a
clerk's and an admin's day.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.axe import serious_violations
from tests.e2e.conftest import LiveCity

pytestmark = pytest.mark.browser

PUBLIC_PAGES = ["/", "/verify", "/login", "/card/"]


@pytest.fixture(scope="module")
def pale_city(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveCity]:
    """A city whose colour is pale (saffron): its header text must turn black to read."""
    live = LiveCity(tmp_path_factory.mktemp("pale"))
    with live.config.open("a", encoding="utf-8") as fh:
        fh.write('\n[branding]\ncolour = "#f4c430"\n')
    live.setup()
    live.start()
    try:
        yield live
    finally:
        live.stop()


# Each language once and each colour once: the pages' structure does not change with the
# pair, so the four combinations would check the same markup twice.
@pytest.mark.parametrize(("which", "locale"), [("city", "fr-FR"), ("pale_city", "en-GB")])
def test_public_pages_have_no_serious_violation(which: str, locale: str, browser: Any,
                                                request: pytest.FixtureRequest) -> None:
    live: LiveCity = request.getfixturevalue(which)
    context = browser.new_context(locale=locale, viewport={"width": 390, "height": 844})
    page = context.new_page()
    try:
        found = {}
        for path in PUBLIC_PAGES:
            page.goto(live.url + path)
            found[path] = serious_violations(page)
        assert found == {path: [] for path in PUBLIC_PAGES}
    finally:
        context.close()


def test_the_checker_sees_a_violation(browser: Any) -> None:
    """axe really runs: a picture without alternative text is reported (critical)."""
    page = browser.new_page()
    try:
        page.set_content('<html lang="en"><title>t</title><main><img src="x.png"></main></html>')
        found = serious_violations(page)
        assert len(found) == 1 and found[0].startswith("image-alt (critical)")
    finally:
        page.close()
