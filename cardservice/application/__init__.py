"""The application layer: one ``Application`` per process, one method per use case.

Web views and CLI commands call this layer and nothing below it: they never open a
transaction, query the engine or rebuild a use case. Each use case runs in one unit of
work (``unit.UnitOfWork``) that commits once or not at all; services underneath only
flush. Errors of the pure modules become typed domain errors here.

    app = Application(settings)
    rid = app.residents.register(fields, photo=None, confirm_new=False, actor="ana")
    issued = app.cards.issue(rid, actor="ana")
    result = app.verifier.verify(issued.qr, now=utcnow())
"""

from __future__ import annotations

from sqlalchemy import text

from cardservice import schema
from cardservice.application.alliances import AllianceSyncResult, AllianceUseCases
from cardservice.application.backup import (
    BackupRefusedError,
    BackupReport,
    BackupUseCases,
    RestoreTargetNotEmptyError,
)
from cardservice.application.cards import CardSheet, CardUseCases, PrintSelection
from cardservice.application.city import (
    CityUseCases,
    KeysOverview,
    KeyWarning,
    RootRotation,
    SigningKeyView,
    TrustExport,
)
from cardservice.application.monitoring import Monitoring, OperationalNumbers
from cardservice.application.partners import PartnerUseCases, SyncResult
from cardservice.application.renewals import RenewalUseCases
from cardservice.application.residents import (
    CardOfAnotherCityError,
    CardQuery,
    FamilyQuery,
    NameQuery,
    ResidentQuery,
    ResidentUseCases,
)
from cardservice.application.staff import AuditEntryView, AuditPage, NewAccount, StaffUseCases
from cardservice.application.unit import UnitOfWork, database_unavailable
from cardservice.application.uploads import Uploads
from cardservice.application.verifier import PartnerDirectory, Verifier
from cardservice.branding import Branding
from cardservice.config import Settings, city_branding
from cardservice.db import Database
from cardservice.models import CardStatus
from cardservice.services.alliances import (
    AllianceEvent,
    AllianceRefusedError,
    AllianceView,
    DraftView,
    MemberChange,
    MemberView,
)
from cardservice.services.audit import AuditChainError, AuditQuery
from cardservice.services.cards import (
    REVOCATION_REASONS,
    CardInfo,
    IssuedCard,
    PrintRow,
    RenewalCodeMismatchError,
    iso,
)
from cardservice.services.citykeys import CityKeys, KeysUnavailableError, RegisterDestroyedError
from cardservice.services.partners import PartnerView, RecognitionRequestView
from cardservice.services.renewals import CHANGE_FIELDS as RENEWAL_CHANGE_FIELDS
from cardservice.services.renewals import KINDS as RENEWAL_KINDS
from cardservice.services.renewals import (
    CardHolderSession,
    CardNotMatchedError,
    QueueItem,
    QueuePage,
    RequestView,
)
from cardservice.services.resident_search import KIND_SCAN as SEARCH_KIND_SCAN
from cardservice.services.resident_search import PAGE_SIZE as SEARCH_PAGE_SIZE
from cardservice.services.resident_search import ResidentMatch, ResidentSearchPage
from cardservice.services.residents import (
    CardSummary,
    LikelyDuplicateError,
    PurgePlan,
    ResidentData,
    ResidentView,
)
from cardservice.services.users import StaffMember
from cardservice.services.verification import VerificationResult
from cardservice.slippdf import SlipLabels
from cardservice.verifykit import OfflineKit

# What web views and CLI commands may name: the use cases' results and errors. They
# import these from here, never from the services or models below.
__all__ = [
    "database_unavailable",
    "RENEWAL_CHANGE_FIELDS", "RENEWAL_KINDS", "REVOCATION_REASONS", "SEARCH_KIND_SCAN",
    "SEARCH_PAGE_SIZE",
    "CardOfAnotherCityError", "CardQuery", "CardSummary", "FamilyQuery", "NameQuery",
    "ResidentData", "ResidentMatch", "ResidentQuery", "ResidentSearchPage",
    "AllianceEvent", "AllianceRefusedError", "AllianceSyncResult", "AllianceUseCases",
    "AllianceView", "DraftView", "MemberChange", "MemberView",
    "Application", "AuditChainError", "AuditEntryView", "AuditPage", "AuditQuery",
    "BackupRefusedError", "BackupReport", "Branding", "CardHolderSession", "CardInfo",
    "CardNotMatchedError", "CardSheet", "CardStatus", "IssuedCard", "KeyWarning",
    "KeysOverview", "KeysUnavailableError", "LikelyDuplicateError", "Monitoring",
    "NewAccount", "OfflineKit", "OperationalNumbers",
    "PartnerDirectory", "PartnerView", "PrintRow", "PrintSelection", "PurgePlan",
    "QueueItem", "QueuePage", "RecognitionRequestView", "RegisterDestroyedError",
    "RenewalCodeMismatchError",
    "RequestView", "ResidentView", "RestoreTargetNotEmptyError", "RootRotation",
    "SigningKeyView", "SlipLabels", "StaffMember", "SyncResult",
    "TrustExport", "UnitOfWork", "Uploads", "VerificationResult", "Verifier", "iso",
]


class Application:
    """Everything one city's process needs, built once from its settings.

    The database engine and the keys are opened lazily (keys on first signature or
    decryption), so building an ``Application`` is cheap and touches nothing.
    """

    def __init__(self, settings: Settings, *, db: Database | None = None) -> None:
        self.settings = settings
        self.db = db if db is not None else Database(settings.database_url)
        self.keys = CityKeys(settings)
        self.uow = UnitOfWork(self.db)
        self.uploads = Uploads(settings.uploads)
        self.verifier = Verifier(settings, self.keys, self.db, self.uow, self.uploads)
        self.staff = StaffUseCases(settings, self.uow)
        self.residents = ResidentUseCases(settings, self.keys, self.uow, self.uploads,
                                          self.verifier)
        self.cards = CardUseCases(settings, self.keys, self.uow)
        self.renewals = RenewalUseCases(settings, self.keys, self.uow)
        self.partners = PartnerUseCases(settings, self.keys, self.uow, self.verifier.partners)
        self.alliances = AllianceUseCases(settings, self.keys, self.uow, self.verifier.partners)
        self.city = CityUseCases(settings, self.keys, self.uow)
        self.backup = BackupUseCases(settings, self.keys, self.db, self.uow)
        self.monitoring = Monitoring(self.keys, self.uow, self.verifier)

    @property
    def branding(self) -> Branding:
        """The city's emblem, colour and return line, read and checked on first use."""
        return city_branding(self.settings.branding)

    def upgrade_schema(self) -> None:
        """Create or upgrade the database schema (safe to repeat)."""
        schema.upgrade(self.db)

    def schema_is_current(self) -> bool:
        """Whether the database is at the newest migration."""
        return schema.is_current(self.db)

    def healthy(self) -> bool:
        """Whether the database answers."""
        try:
            with self.db.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception:  # noqa: BLE001 - any database failure means "not healthy"
            return False
        return True

    def close(self) -> None:
        """Release pooled database connections (flushing verification counts first)."""
        self.verifier.flush_counts()
        self.db.dispose()
