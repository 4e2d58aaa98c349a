"""SPEC §2: what is never collected, and the check that refuses it.

Refused, with an error that names the field, before anything is parsed or stored:
any request field whose name means what is never collected (immigration or residence
status, nationality or citizenship, country or place of birth, a national ID or
social-security number, a document's number, copy or scan), under every spelling —
names are compared after folding case and dropping separators — and in nested objects
and list items too. Inside a document (``documents: [{...}]``) a number, a copy or an
issuing country is refused under its plain name (``documents[0].number``): a clerk
records only the document's category.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from cardservice.errors import N_, NotCollectedError

# Folded names (lower case, letters and digits only) of what the service never collects;
# every line of this table lists names that are refused.
NOT_COLLECTED: frozenset[str] = frozenset({  # refused: never collected
    "immigrationstatus", "migrationstatus", "residencestatus", "residencepermit",  # refused
    "residencepermitstatus", "residencepermitnumber", "visa", "visastatus", "visanumber",  # refused
    "visatype", "asylumstatus", "refugeestatus", "legalstatus", "documentedstatus",  # refused
    "undocumented", "nationality", "nationalities", "citizenship", "citizenshipstatus",  # refused
    "countryofbirth", "placeofbirth", "birthplace", "birthcountry", "cityofbirth",  # refused
    "countryoforigin", "origincountry", "nationalid", "nationalidnumber", "idnumber",  # refused
    "identitynumber", "identitycardnumber", "ssn", "socialsecuritynumber",  # refused
    "socialinsurancenumber", "taxid", "taxnumber", "nif", "nir", "bsn", "cpf", "curp",  # refused
    "passportnumber", "passportno", "documentnumber", "documentno", "documentid",  # refused
    "documentcopy", "documentscan", "documentimage", "documentphoto", "passportcopy",  # refused
    "passportscan", "idcopy", "idscan", "alienregistrationnumber", "anumber",  # refused
})


# Inside a document (a value under a key such as "documents", "document", "passport" or
# "id_card"), only its category may be given: these names there mean a document's number,
# copy or scan, or the country that issued it (a nationality by another name).
DOCUMENT_KEYS: frozenset[str] = frozenset({  # a value under these keys describes a document
    "documents", "document", "docs", "doc", "documentsseen", "passport", "passports",
    "idcard", "identitycard", "identitydocument", "residencecard", "permit",
})
DOCUMENT_DETAILS: frozenset[str] = frozenset({  # refused inside a document: never collected
    "number", "no", "num", "nr", "numero", "id", "identifier", "serial", "serialnumber",
    "reference", "ref", "mrz", "copy", "scan", "image", "photo", "picture", "file",
    "attachment", "data", "content", "country", "issuingcountry", "issuedby", "issuer",
    "countryofissue", "issuingstate", "nationality", "expiry", "expires", "expirydate",
    "validuntil", "dateofexpiry", "issuedate", "dateofissue",
})


def fold(name: str) -> str:
    """A field name folded for comparison."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _refused(path: str) -> NotCollectedError:
    return NotCollectedError(
        N_("The field '%(field)s' is refused: this service does not collect "
           "immigration status, nationality, place of birth, ID numbers or "
           "document copies. Nothing was stored."),
        params={"field": path}, field=path,
    )


def refuse_not_collected(data: Any, *, path: str = "") -> None:
    """Raise ``NotCollectedError`` naming the first never-collected field in ``data``.

    Walks objects and lists to any depth without recursing (no body can exhaust the stack
    here), in document order: the field named is the first one a reader would meet. A
    field's path is spelled out only when it is refused, so deep data costs linear time.
    """
    # Each entry: a key to check (None for the root and list items), the value under it,
    # its place (parent place, own segment) and whether it sits inside a document.
    root: _Place = (None, path)
    stack: list[tuple[str | None, Any, _Place, bool]] = [(None, data, root, False)]
    while stack:
        key, value, place, in_document = stack.pop()
        if key is not None:
            folded = fold(key)
            if folded in NOT_COLLECTED or (in_document and folded in DOCUMENT_DETAILS):
                raise _refused(_spell(place))
            in_document = in_document or folded in DOCUMENT_KEYS
        if isinstance(value, Mapping):
            stack.extend(reversed([(str(k), v, (place, f".{k}"), in_document)
                                   for k, v in value.items()]))
        elif isinstance(value, list | tuple):
            stack.extend(reversed([(None, item, (place, f"[{i}]"), in_document)
                                   for i, item in enumerate(value)]))


_Place = tuple[Any, str]  # (the parent's place or None, this segment)


def _spell(place: _Place) -> str:
    parts = []
    node: _Place | None = place
    while node is not None:
        parent, segment = node
        parts.append(segment)
        node = parent
    return "".join(reversed(parts)).lstrip(".")
