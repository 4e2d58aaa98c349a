"""The unit of work: one transaction per use case, committed once or not at all.

Services change a session and flush; only this module commits. A use case that fails
anywhere — a refused input, a pure module's error, a crash halfway — leaves the
database exactly as it was. Errors of the pure modules become typed domain errors
here, so web and CLI never see a bare ``ValueError`` from deep inside.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, suppress

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.orm import Session

from cardservice import credential, pki, trust, vault
from cardservice.db import Database
from cardservice.errors import N_, DatabaseUnavailableError, DomainError, InvalidInputError
from cardservice.services.citykeys import KeysUnavailableError
from cardservice.services.partners import PartnerTrustError


def database_unavailable(exc: BaseException) -> DatabaseUnavailableError | None:
    """The 503 a lost or refused database connection stands for (None: another error).

    A server restarting, a network cut or a connection the server closed surface as the
    driver's ``OperationalError``/``InterfaceError`` (or any error SQLAlchemy marks as a
    disconnect); the client is told to retry instead of seeing a server error. The pool
    pings each connection before use, so the first request after the database is back
    gets a fresh one.
    """
    lost = isinstance(exc, OperationalError | InterfaceError) or (
        isinstance(exc, DBAPIError) and exc.connection_invalidated)
    if not lost:
        return None
    return DatabaseUnavailableError(
        N_("The register's database cannot be reached right now. Please try again in a "
           "moment."))


def domain_error(exc: Exception) -> DomainError | None:
    """The domain error a pure module's error stands for (None: not a pure module's error).

    Services translate the errors they expect with a precise message; this is the net
    under them, so that nothing from the pure core reaches a user as a server error.
    """
    unavailable = database_unavailable(exc)
    if unavailable is not None:
        return unavailable
    detail = {"detail": str(exc)}
    if isinstance(exc, credential.InvalidClaimsError):
        return InvalidInputError(N_("This record cannot be put on a card: %(detail)s"),
                                 params=detail)
    if isinstance(exc, trust.TrustError):
        return PartnerTrustError(N_("The trust data was refused: %(detail)s"), params=detail)
    if isinstance(exc, pki.PKIError):
        return KeysUnavailableError(N_("The city's keys cannot be used: %(detail)s"),
                                    params=detail)
    if isinstance(exc, vault.VaultError):
        return KeysUnavailableError(N_("Personal data cannot be opened: %(detail)s"),
                                    params=detail)
    return None


class UnitOfWork:
    """Opens one session per use case; commits when the block ends without an error."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def __call__(self) -> AbstractContextManager[Session]:
        """A session whose changes are committed together, or rolled back together."""
        return self._session(commit=True)

    def read(self) -> AbstractContextManager[Session]:
        """A session for reading only: whatever it did is rolled back at the end."""
        return self._session(commit=False)

    @contextmanager
    def _session(self, *, commit: bool) -> Iterator[Session]:
        session = self._db.sessions()
        try:
            yield session
            if commit:
                session.commit()
        except Exception as exc:
            # A lost connection cannot roll back; the server discards its transaction.
            with suppress(OperationalError, InterfaceError):
                session.rollback()
            mapped = domain_error(exc)
            if mapped is not None:
                raise mapped from exc
            raise
        finally:
            session.close()  # rolls back whatever was not committed
