"""SPEC §2: never-collected fields are refused wherever they appear, by name."""

from __future__ import annotations

import pytest

from cardservice.errors import NotCollectedError
from cardservice.privacy import refuse_not_collected

# name -> (data, the field the refusal names)
REFUSED: dict[str, tuple[object, str]] = {
    "top level": ({"given_names": "A", "nationality": "x"}, "nationality"),
    "another spelling": ({"Country-Of-Birth": "x"}, "Country-Of-Birth"),
    "nested object": ({"address": {"line1": "x", "place_of_birth": "y"}},
                      "address.place_of_birth"),
    "list item": ({"contacts": [{"name": "a"}, {"ssn": "1"}]}, "contacts[1].ssn"),
    "a document's number": ({"documents": [{"category": "passport", "number": "X1234567"}]},
                            "documents[0].number"),
    "a document's scan": ({"documents": ["utility_bill", {"category": "passport",
                                                          "scan": "base64..."}]},
                          "documents[1].scan"),
    "the country that issued a document": (
        {"documents": [{"category": "passport", "issuing_country": "X"}]},
        "documents[0].issuing_country"),
    "a document under another name": ({"passport": {"no": "X1"}}, "passport.no"),
    "renewal top level": ({"serial": "x", "date_of_birth": "1990-01-01",
                           "renewal_code": "x", "immigration_status": "x"},
                          "immigration_status"),
    "the first in document order": ({"a": {"visa": 1}, "ssn": 2}, "a.visa"),
    "inside a top-level list": ([{"ok": 1}, {"nationality": 1}], "[1].nationality"),
}


@pytest.mark.parametrize("name", list(REFUSED))
def test_never_collected_is_refused_by_name(name):
    data, field = REFUSED[name]
    with pytest.raises(NotCollectedError) as info:
        refuse_not_collected(data)
    assert info.value.field == field
    assert f"'{field}'" in info.value.message and "does not collect" in info.value.message


ALLOWED = {
    "a registration": {"given_names": "A", "documents": [{"category": "passport"}],
                       "address": {"line1": "x"}, "contact": {"phone": "1"}},
    "'number' outside a document": {"address": {"number": "12"}},
    "values are not names": {"note": "nationality"},
}


@pytest.mark.parametrize("name", list(ALLOWED))
def test_ordinary_data_passes(name):
    refuse_not_collected(ALLOWED[name])


def test_a_deep_body_does_not_exhaust_the_stack():
    data: object = {"nationality": 1}
    for _ in range(20_000):  # well past Python's recursion limit
        data = {"a": [data]}
    with pytest.raises(NotCollectedError) as info:
        refuse_not_collected(data)
    assert info.value.field.endswith("a[0].nationality")
