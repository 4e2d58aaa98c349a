"""SPEC §2: what is never collected, and the check that refuses it.

Any request field whose name means immigration or residence status, nationality or
citizenship, country or place of birth, a national ID / social-security number, or a
document's number, copy or scan is refused with an error that names the field —
before anything is parsed or stored. Names are compared after folding case and
dropping separators, so ``placeOfBirth``, ``place-of-birth`` and ``PLACE_OF_BIRTH``
are all caught, in nested objects and lists too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from cardservice.errors import NotCollectedError

# Folded names (lower case, letters and digits only) of what the service never collects.
NOT_COLLECTED: frozenset[str] = frozenset({
    "immigrationstatus", "migrationstatus", "residencestatus", "residencepermit",
    "residencepermitstatus", "residencepermitnumber", "visa", "visastatus", "visanumber",
    "visatype", "asylumstatus", "refugeestatus", "legalstatus", "documentedstatus",
    "undocumented", "nationality", "nationalities", "citizenship", "citizenshipstatus",
    "countryofbirth", "placeofbirth", "birthplace", "birthcountry", "cityofbirth",
    "countryoforigin", "origincountry", "nationalid", "nationalidnumber", "idnumber",
    "identitynumber", "identitycardnumber", "ssn", "socialsecuritynumber",
    "socialinsurancenumber", "taxid", "taxnumber", "nif", "nir", "bsn", "cpf", "curp",
    "passportnumber", "passportno", "documentnumber", "documentno", "documentid",
    "documentcopy", "documentscan", "documentimage", "documentphoto", "passportcopy",
    "passportscan", "idcopy", "idscan", "alienregistrationnumber", "anumber",
})


def fold(name: str) -> str:
    """A field name folded for comparison."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


def refuse_not_collected(data: Any, *, path: str = "") -> None:
    """Raise ``NotCollectedError`` naming the first never-collected field in ``data``."""
    if isinstance(data, Mapping):
        for key, value in data.items():
            key_s = str(key)
            here = f"{path}.{key_s}" if path else key_s
            if fold(key_s) in NOT_COLLECTED:
                raise NotCollectedError(
                    f"The field '{here}' is refused: this service does not collect "
                    "immigration status, nationality, place of birth, ID numbers or "
                    "document copies. Nothing was stored.",
                    field=here,
                )
            refuse_not_collected(value, path=here)
    elif isinstance(data, list):
        for i, item in enumerate(data):
            refuse_not_collected(item, path=f"{path}[{i}]")
