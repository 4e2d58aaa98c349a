"""Checks on rendered pages that any web test can use: unique ids, labels that point somewhere.

Parsed with the standard library's ``html.parser`` (no browser needed)::

    from tests.htmlcheck import assert_ids_unique
    assert_ids_unique(client.get("/admin/partners/").get_data(as_text=True))
"""

from __future__ import annotations

from collections import Counter
from html.parser import HTMLParser


class _IdCollector(HTMLParser):
    """Collects every ``id`` and every ``<label for=…>`` of a page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: Counter[str] = Counter()
        self.label_targets: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name == "id" and value is not None:
                self.ids[value] += 1
            elif tag == "label" and name == "for" and value is not None:
                self.label_targets.append(value)

    handle_startendtag = handle_starttag


def _collect(html: str) -> _IdCollector:
    parser = _IdCollector()
    parser.feed(html)
    parser.close()
    return parser


def duplicate_ids(html: str) -> dict[str, int]:
    """Each id used more than once on the page, with how many times."""
    return {name: n for name, n in _collect(html).ids.items() if n > 1}


def orphan_labels(html: str) -> list[str]:
    """``<label for=…>`` values that name no element of the page."""
    parser = _collect(html)
    return [target for target in parser.label_targets if target not in parser.ids]


def assert_ids_unique(html: str) -> None:
    """Fail naming the ids used twice, and the labels whose ``for`` names nothing."""
    assert duplicate_ids(html) == {}, "duplicate ids on the page"
    assert orphan_labels(html) == [], "labels that point at no element"
