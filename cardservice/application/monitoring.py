"""The numbers ``/metrics`` exposes, read at scrape time (no personal data, no serial)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from cardservice import pki
from cardservice.application.unit import UnitOfWork
from cardservice.application.verifier import Verifier
from cardservice.services import monitoring
from cardservice.services.citykeys import CityKeys

_DAY = 86_400.0


@dataclass(frozen=True)
class OperationalNumbers:
    """One scrape's worth of gauges and totals.

    ``verifications`` adds the database's totals (every process's flushed counts) and
    this process's counts not flushed yet, so it only grows. A key figure is None when
    the keys cannot be read (the scrape still answers).
    """

    verifications: dict[str, int]
    renewal_queue: int
    partner_sync_age_seconds: dict[str, float | None]
    signing_key_days_left: float | None
    root_days_left: float | None


class Monitoring:
    """Reads what an operator watches; each scrape is one read-only unit of work."""

    def __init__(self, keys: CityKeys, uow: UnitOfWork, verifier: Verifier) -> None:
        self._keys = keys
        self._uow = uow
        self._verifier = verifier

    def numbers(self, *, now: datetime) -> OperationalNumbers:
        """The current numbers."""
        with self._uow.read() as s:
            stored = monitoring.verification_totals(s)
            queue = monitoring.renewal_queue_length(s)
            syncs = monitoring.partner_last_syncs(s)
        totals = Counter(stored)
        totals.update(self._verifier.counter.pending_by_status())
        ages = {city: (now - at).total_seconds() if at is not None else None
                for city, at in syncs.items()}
        signing = root = None
        try:
            st = self._keys.store.status(now=now)
        except pki.PKIError:
            pass  # reported as absent gauges; /admin/keys says why
        else:
            root = (st.root_not_after - now).total_seconds() / _DAY
            if st.active is not None:
                signing = (st.active.signs_until - now).total_seconds() / _DAY
        return OperationalNumbers(dict(totals), queue, ages, signing, root)
