"""Tests for cardservice.pki: roots, signing certificates, fingerprints, chains."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from cardservice import pki

from .conftest import CITY_EPOCH, make_city, seeded_key

DAY = dt.timedelta(days=1)


# --------------------------------------------------------------------------- certificates


def test_root_is_a_self_signed_ed25519_ca(lisboa):
    root = lisboa.root
    assert root.issuer == root.subject
    assert pki.city_id_of(root) == "PTLIS"
    assert pki.city_name_of(root) == "Lisboa"
    bc = root.extensions.get_extension_for_class(x509.BasicConstraints)
    assert bc.critical and bc.value.ca and bc.value.path_length == 0
    ku = root.extensions.get_extension_for_class(x509.KeyUsage)
    assert ku.critical and ku.value.key_cert_sign and ku.value.crl_sign
    assert not ku.value.digital_signature
    root.verify_directly_issued_by(root)
    assert root.not_valid_before_utc == CITY_EPOCH
    assert root.not_valid_after_utc == CITY_EPOCH + 25 * 365 * DAY


def test_signing_certificate_is_issued_by_the_root(lisboa):
    cert = lisboa.signing
    assert cert.issuer == lisboa.root.subject
    assert pki.city_id_of(cert) == "PTLIS"
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert ku.digital_signature and not ku.key_cert_sign
    aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    ski = lisboa.root.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert aki.key_identifier == ski.digest
    pki.check_chain(cert=cert, root=lisboa.root)


def test_certificates_are_reproducible_from_fixed_keys(lisboa):
    again = make_city("PTLIS", "Lisboa")
    assert again.root == lisboa.root
    assert again.signing == lisboa.signing


def test_times_are_truncated_to_whole_seconds():
    _key, root = pki.generate_root(
        city_id="PTLIS", city_name="Lisboa", now=CITY_EPOCH + dt.timedelta(microseconds=700)
    )
    assert root.not_valid_before_utc == CITY_EPOCH


@pytest.mark.parametrize("city_id", ["ptlis", "PT LIS", "PTLI", "PTLISB", "", "PT-LI"])
def test_city_id_must_be_a_locode(city_id):
    with pytest.raises(pki.CertificateContentError):
        pki.generate_root(city_id=city_id, city_name="X", now=CITY_EPOCH)


def test_naive_time_is_refused():
    with pytest.raises(ValueError):
        pki.generate_root(city_id="PTLIS", city_name="Lisboa", now=dt.datetime(2026, 1, 1))


def test_signing_certificate_cannot_outlive_its_root(lisboa):
    with pytest.raises(pki.CertificateValidityError):
        pki.issue_signing_certificate(
            root_key=lisboa.root_key,
            root_cert=lisboa.root,
            now=CITY_EPOCH,
            not_after=lisboa.root.not_valid_after_utc + DAY,
        )


def test_signing_certificate_needs_the_roots_own_key(lisboa, lyon):
    with pytest.raises(pki.CertificateContentError):
        pki.issue_signing_certificate(
            root_key=lyon.root_key,
            root_cert=lisboa.root,
            now=CITY_EPOCH,
            not_after=CITY_EPOCH + DAY,
        )


# --------------------------------------------------------------------------- fingerprints


def test_fingerprint_is_sixteen_groups_of_four_hex_digits(lisboa):
    fp = pki.fingerprint(lisboa.root)
    assert re.fullmatch(r"[0-9A-F]{4}( [0-9A-F]{4}){15}", fp)
    der = lisboa.root.public_bytes(serialization.Encoding.DER)
    import hashlib

    assert fp.replace(" ", "") == hashlib.sha256(der).hexdigest().upper()


@pytest.mark.parametrize(
    "spelling",
    [
        lambda fp: fp,
        lambda fp: fp.lower(),
        lambda fp: fp.replace(" ", ""),
        lambda fp: fp.replace(" ", ":"),
        lambda fp: fp.replace(" ", "-").lower(),
        lambda fp: "  " + fp.replace(" ", "\n") + "\t",
        lambda fp: ":".join(fp.replace(" ", "")[i : i + 2] for i in range(0, 64, 2)),
    ],
)
def test_normalise_fingerprint_accepts_any_spacing_case_and_separators(lisboa, spelling):
    fp = pki.fingerprint(lisboa.root)
    assert pki.normalise_fingerprint(spelling(fp)) == fp


@pytest.mark.parametrize(
    "text",
    ["", "ABCD", "G" * 64, "A" * 63, "A" * 65, "AB CD " * 15, "ÄBCD" * 16, "0x" + "A" * 62],
)
def test_normalise_fingerprint_refuses_wrong_length_or_non_hex(text):
    with pytest.raises(pki.FingerprintFormatError):
        pki.normalise_fingerprint(text)


def test_key_id_is_eight_bytes_of_sha256_over_the_certificate(lisboa):
    import hashlib

    der = lisboa.signing.public_bytes(serialization.Encoding.DER)
    assert pki.key_id(lisboa.signing) == hashlib.sha256(der).digest()[:8]


# --------------------------------------------------------------------------- chain


def test_chain_accepts_the_issuing_root(lisboa):
    pki.check_chain(cert=lisboa.signing, root=lisboa.root)


def test_chain_refuses_a_certificate_from_another_root(lisboa, lyon):
    with pytest.raises(pki.UntrustedCertificateError):
        pki.check_chain(cert=lyon.signing, root=lisboa.root)


def test_chain_refuses_a_lookalike_root_with_the_same_name(lisboa):
    # Same subject (CN=Lisboa, PTLIS), different key: names alone prove nothing.
    impostor = make_city("PTLIS", "Lisboa", seed="impostor")
    assert impostor.root.subject == lisboa.root.subject
    with pytest.raises(pki.UntrustedCertificateError):
        pki.check_chain(cert=impostor.signing, root=lisboa.root)


def test_chain_refuses_a_root_that_is_not_a_ca(lisboa):
    # A signing certificate used as a "root" for a certificate it signed.
    key = seeded_key("leaf")
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "leaf")])
    leaf = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(lisboa.signing.subject)
        .public_key(key.public_key())
        .serial_number(7)
        .not_valid_before(CITY_EPOCH)
        .not_valid_after(CITY_EPOCH + DAY)
        .sign(lisboa.signing_key, None)
    )
    with pytest.raises(pki.UntrustedCertificateError):
        pki.check_chain(cert=leaf, root=lisboa.signing)


def test_chain_refuses_a_ca_as_signing_certificate(lisboa):
    with pytest.raises(pki.UntrustedCertificateError):
        pki.check_chain(cert=lisboa.root, root=lisboa.root)


def test_chains_to_and_find_issuer_root_answer_for_a_set_of_roots(lisboa, lyon):
    roots = [lyon.root, lisboa.root]
    assert pki.find_issuer_root(lisboa.signing, roots) is lisboa.root
    assert pki.chains_to(lisboa.signing, roots)
    assert pki.find_issuer_root(lisboa.signing, [lyon.root]) is None
    assert not pki.chains_to(lisboa.signing, [lyon.root])
    assert not pki.chains_to(lisboa.signing, [])
    # A CA is never a signing certificate, even its own root.
    assert not pki.chains_to(lisboa.root, [lisboa.root])


@pytest.mark.parametrize("city_id", ["PT0AB", "PTL1S"])
def test_city_id_place_code_has_no_zero_or_one(city_id):
    # UN/LOCODE place codes use the digits 2-9 only (SPEC §3), as config checks.
    with pytest.raises(pki.CertificateContentError):
        pki.generate_root(city_id=city_id, city_name="X", now=CITY_EPOCH)
