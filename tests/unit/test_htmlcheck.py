"""The page checker other web tests use (tests/htmlcheck.py)."""

from __future__ import annotations

import pytest

from tests.htmlcheck import assert_ids_unique, duplicate_ids, orphan_labels


def test_finds_duplicate_ids_and_orphan_labels():
    html = ('<form><input id="a"><input id="a"/><label for="b">B</label>'
            '<label for="a">A</label></form>')
    assert duplicate_ids(html) == {"a": 2}
    assert orphan_labels(html) == ["b"]
    with pytest.raises(AssertionError):
        assert_ids_unique(html)


def test_a_clean_page_passes():
    assert_ids_unique('<label for="x">X</label><input id="x"><p id="y">&amp;</p>')
