"""What an operator watches (``/metrics``): counts and ages only, never anything about a person."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cardservice.models import Partner, RenewalRequest, VerificationCount


def verification_totals(session: Session) -> dict[str, int]:
    """Verifications ever stored, per status (every process's flushed counts)."""
    rows = session.execute(select(VerificationCount.status, func.sum(VerificationCount.count))
                           .group_by(VerificationCount.status))
    return {status: int(total or 0) for status, total in rows}


def renewal_queue_length(session: Session) -> int:
    """Residents' requests waiting for a clerk."""
    return session.scalar(select(func.count()).select_from(RenewalRequest)
                          .where(RenewalRequest.status == "pending")) or 0


def partner_last_syncs(session: Session) -> dict[str, datetime | None]:
    """Each partner city's last successful sync (None: never), by city id."""
    rows = session.execute(select(Partner.city_id, Partner.last_sync_ok_at))
    return {city: at for city, at in rows}
