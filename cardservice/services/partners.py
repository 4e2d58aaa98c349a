"""Partner cities: recognition, trust data sync (issue 7). For now: none recognised."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from cardservice.services.verification import PartnerTrust


def cached_partner_trust(session: Session, cache: dict[str, Any]) -> Mapping[str, PartnerTrust]:
    """Partners' verification data, rebuilt only when it changed."""
    return {}
