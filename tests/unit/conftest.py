"""Shared fixtures for the pure modules: fixed times, real keys and certificates.

Keys come from fixed seeds so failures reproduce; certificates are made by
cardservice.pki itself (real Ed25519, real X.509), never mocked.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cardservice import pki

#: The instant every test city is created at.
CITY_EPOCH = dt.datetime(2026, 3, 1, 9, 30, tzinfo=dt.UTC)


def seeded_key(label: str) -> Ed25519PrivateKey:
    """An Ed25519 key derived from ``label``, the same in every run."""
    return Ed25519PrivateKey.from_private_bytes(hashlib.sha256(label.encode()).digest())


@dataclass(frozen=True)
class KeyedCity:
    """A city root and one signing certificate (valid six years from CITY_EPOCH)."""

    city_id: str
    root_key: Ed25519PrivateKey
    root: x509.Certificate
    signing_key: Ed25519PrivateKey
    signing: x509.Certificate

    @property
    def kid(self) -> bytes:
        return pki.key_id(self.signing)


def make_city(city_id: str, city_name: str, *, seed: str | None = None) -> KeyedCity:
    """Build a test city with keys from ``seed`` (default: the city id)."""
    seed = seed or city_id
    root_key, root = pki.generate_root(
        city_id=city_id,
        city_name=city_name,
        now=CITY_EPOCH,
        private_key=seeded_key(f"{seed} root"),
    )
    signing_key, signing = pki.issue_signing_certificate(
        root_key=root_key,
        root_cert=root,
        now=CITY_EPOCH,
        not_after=CITY_EPOCH + dt.timedelta(days=6 * 366),
        private_key=seeded_key(f"{seed} signing"),
    )
    return KeyedCity(city_id, root_key, root, signing_key, signing)


@pytest.fixture(scope="session")
def lisboa() -> KeyedCity:
    """The home city in these tests."""
    return make_city("PTLIS", "Lisboa")


@pytest.fixture(scope="session")
def lyon() -> KeyedCity:
    """A second, independent city."""
    return make_city("FRLYS", "Lyon")


@pytest.fixture
def passphrase() -> bytes:
    """A key passphrase as the CLI would pass it (bytes)."""
    return b"correct horse battery staple"
