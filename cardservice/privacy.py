"""SPEC §2: what is never collected, and the check that refuses it.

Refused, with an error that names the field, before anything is parsed or stored:
any request field whose name means what is never collected (immigration or residence
status, nationality or citizenship, country or place of birth, a national ID or
social-security number, a document's number, copy or scan), under every spelling —
names are compared after folding case and dropping separators — and in nested objects
and lists too.
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
                    N_("The field '%(field)s' is refused: this service does not collect "
                       "immigration status, nationality, place of birth, ID numbers or "
                       "document copies. Nothing was stored."),
                    params={"field": here}, field=here,
                )
            refuse_not_collected(value, path=here)
    elif isinstance(data, list):
        for i, item in enumerate(data):
            refuse_not_collected(item, path=f"{path}[{i}]")
