"""The city's keys as services use them: the signing key store and the privacy vault.

Loaded once per process (scrypt and key decryption are slow on purpose) and only
when first needed, so pages that never sign or decrypt never touch a private key.
"""

from __future__ import annotations

import threading
from datetime import datetime

from cardservice import keystore, pki, vault
from cardservice.config import Settings
from cardservice.errors import N_, DomainError

MASTER_KEY_FILE = "master.key"


class KeysUnavailableError(DomainError):
    """The keys cannot be used (no passphrase, wrong passphrase, destroyed register)."""

    code = "keys_unavailable"
    http_status = 503


class RegisterDestroyedError(KeysUnavailableError):
    """``purge --all`` destroyed the master key: no personal data can be read any more."""

    code = "register_destroyed"
    http_status = 410


class CityKeys:
    """Lazy access to ``keys/``: signing certificates and keys, and the master key."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store = keystore.KeyStore(settings.keys_dir, passphrase=settings.key_passphrase)
        self._vault: vault.Vault | None = None
        self._lock = threading.Lock()

    @property
    def master_key_path(self):  # noqa: ANN201 - a Path
        """Where the master key lives."""
        return self.settings.keys_dir / MASTER_KEY_FILE

    def _passphrase(self) -> bytes:
        if not self.settings.key_passphrase:
            raise KeysUnavailableError(
                N_("CARDSERVICE_KEY_PASSPHRASE is not set: personal data and signing are "
                "unavailable."))
        return self.settings.key_passphrase

    def init(self, *, now: datetime) -> list[str]:
        """Create the city root, a signing key and the master key unless they exist."""
        done = []
        max_days = self.settings.cards.validity_years * 366 + 1
        if self.store.init(city_id=self.settings.city.id, city_name=self.settings.city.name,
                           now=now, max_card_validity_days=max_days):
            done.append("created the city root and a signing certificate")
        if not self.master_key_path.exists():
            vault.create_master_key(self.master_key_path, passphrase=self._passphrase())
            done.append("created the master key")
        return done

    def vault(self) -> vault.Vault:
        """The vault, loading the master key on first use."""
        with self._lock:
            if self._vault is None:
                try:
                    master = vault.load_master_key(self.master_key_path,
                                                   passphrase=self._passphrase())
                except vault.MasterKeyMissingError:
                    raise RegisterDestroyedError(
                        N_("The register's master key has been destroyed: personal data can no "
                        "longer be read.")) from None
                except vault.VaultPassphraseError:
                    raise KeysUnavailableError(
                        N_("The key passphrase is wrong: personal data is unavailable.")) from None
                self._vault = vault.Vault(master)
            return self._vault

    def forget_vault(self) -> None:
        """Drop the cached master key (after ``purge --all``)."""
        with self._lock:
            self._vault = None

    def root_key(self) -> pki.Ed25519PrivateKey:
        """The city root's private key, to sign trust bundles and revocation lists only."""
        try:
            return keystore.load_private_key(self.settings.keys_dir / "root.key.pem",
                                        passphrase=self._passphrase())
        except keystore.KeyPassphraseError:
            raise KeysUnavailableError(N_("The key passphrase is wrong.")) from None

    def signer(self, *, now: datetime) -> keystore.Signer:
        """The key and certificate that sign cards now."""
        self._passphrase()
        try:
            return self.store.active_signer(now=now)
        except keystore.KeyPassphraseError:
            raise KeysUnavailableError(N_("The key passphrase is wrong: cards cannot be signed.")) \
                from None
        except keystore.KeyStoreNotInitialisedError:
            raise KeysUnavailableError(N_("The city's keys are missing: run `cardservice init`.")) \
                from None
        except keystore.NoActiveSigningKeyError:
            raise KeysUnavailableError(
                N_("No signing key can sign now: run `cardservice keys rotate`.")) from None
