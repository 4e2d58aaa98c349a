"""Trust between cities: trust bundles, revocation lists, and what a city holds about a partner.

Rules this module enforces (SPEC §5, issue 7):

- A **trust bundle** is signed by the city root it carries. It names the city, its base URL,
  a **version** that only grows, ``issued_at`` / ``expires_at``, the root, the root it
  replaced (``previous_root``, while cards signed under it are still valid), every signing
  certificate still in force, and where the revocation list is.
- A **revocation list** is signed by the current root and holds the revoked card serials
  that have not yet expired, a **sequence** number that only grows and ``next_update``.
- Trust starts from a **pinned fingerprint** (SHA-256 of the root DER) given by another
  channel; nothing is trusted unless it matches (:meth:`TrustedState.from_pinned_bundle`).
- A **root rotation** is a bundle whose ``previous_root`` is the root a partner holds,
  signed by *both* that previous root and the new root. A partner more than one rotation
  behind follows the chain of rotation bundles (``intermediates``), at most
  :data:`MAX_ROOT_CHAIN` rotations in one update.
- A bundle with a lower version than the one held is refused (no rollback); the same
  version is accepted only as the very same content (a no-op). A bundle past its
  ``expires_at`` or whose root has expired is refused.
- Every signing certificate in a bundle must chain to its root or to the ``previous_root``
  it names (both are vouched for by the root's signature); one that does not makes the
  whole bundle refused: a publisher that lists a bad certificate is broken.
- A revocation list is accepted only from the held root, for the held city, with a
  sequence not lower than the one held (same sequence: same content only). A list past
  its ``next_update`` is *stale*: still accepted when newer than the one held (it is the
  best information there is), and :meth:`TrustedState.revocations_stale` says so, so that
  verification can report the age of its trust data. Only the current root signs lists:
  a retired root may have been retired for being compromised. A list accepted before a
  rotation stays until the next one arrives; after following two rotations at once, the
  held list's root is no longer named by the bundle and the list is dropped (it could not
  be checked again on loading; any list from the new root is newer anyway).
- Onboarding during a rotation: the pinned fingerprint may also be that of the
  ``previous_root`` of a bundle signed by both roots.
- :class:`TrustedState` is immutable. Updates return a *new* state or raise a
  :class:`TrustError`; a caller stores the new state only on success, so a refused
  document never changes what is trusted. Any malformed input raises
  :class:`TrustFormatError`, never another exception type.
- Stored state (:meth:`TrustedState.to_bytes`) is the raw signed documents; loading it
  (:meth:`TrustedState.from_bytes`) checks every signature again against the fingerprint
  the caller holds, so storage cannot smuggle in an unverified field. Loading accepts an
  expired bundle (the data is still the best known); ``bundle_expired`` and
  ``trust_data_age_seconds`` report it.
- Time is passed in as ``now``; nothing here reads the clock.

Alliances (SPEC §5b: a member list signed by a threshold of member roots, and
:class:`AllianceState`) are in :mod:`~cardservice.trust.alliance`, with their own rules.

Modules: :mod:`~cardservice.trust.model` (the documents as data, their field rules,
errors), :mod:`~cardservice.trust.documents` (CBOR payloads, COSE signing and reading,
JSON output), :mod:`~cardservice.trust.state` (:class:`TrustedState`). The names below
are the package's public surface; import them from ``cardservice.trust``.

Encoding (CBOR, RFC 8949; COSE, RFC 9052, via :mod:`cardservice.cose`; all maps in
canonical order; times are integer seconds since 1970-01-01T00:00:00Z; ``kid(root)`` =
first 8 bytes of SHA-256 over the root certificate DER; external_aad is empty)::

    bundle, one signer     COSE_Sign1, tag 18:
                           [ << {1: -8, 3: "application/citycard-trust-bundle+cbor",
                                 4: kid(root)} >>, {}, payload, signature ]
    bundle, root rotation  COSE_Sign, tag 98:
                           [ << {3: "application/citycard-trust-bundle+cbor"} >>, {}, payload,
                             [ [ << {1: -8, 4: kid(root)} >>,          {}, signature ],
                               [ << {1: -8, 4: kid(previous_root)} >>, {}, signature ] ] ]
    revocation list        COSE_Sign1, tag 18:
                           [ << {1: -8, 3: "application/citycard-revocations+cbor",
                                 4: kid(root)} >>, {}, payload, signature ]

    bundle payload   {"city_id": tstr, "city_name": tstr, "names": {lang: tstr},
                      "base_url": tstr, "version": uint, "issued_at": uint,
                      "expires_at": uint, "root": bstr (DER),
                      "previous_root": bstr (DER) / null,
                      "signing_certificates": [{"kid": bstr, "certificate": bstr (DER),
                                                "not_before": uint, "not_after": uint}],
                      "revocations_url": tstr}
    revocations      {"city_id": tstr, "sequence": uint, "issued_at": uint,
                      "next_update": uint, "revoked": [[serial tstr, expires_at uint,
                                                        reason tstr], ...] (by serial)}

COSE_Sign (the standard multi-signer structure) is used only for a rotation, with the new
root's signature first; a bundle that names a ``previous_root`` but is no longer part of
a rotation is a plain COSE_Sign1 by the current root. The content type in the protected
header, covered by every signature, keeps a revocation list from being read as a bundle
and the reverse. Decoding is strict: shortest-form CBOR, exactly these headers and keys.
"""

from cardservice.trust.alliance import (
    ALLIANCE_CONTENT_TYPE,
    MAX_ALLIANCE_BYTES,
    AllianceMember,
    AllianceMismatchError,
    AllianceState,
    InsufficientSignaturesError,
    MemberList,
    MemberListChanges,
    MemberListDocument,
    SignatureCount,
    UnconfirmedFingerprintsError,
)
from cardservice.trust.documents import (
    bundle_to_json,
    decode_bundle_unverified,
    decode_revocations_unverified,
    revocations_to_json,
    sign_bundle,
    sign_revocations,
)
from cardservice.trust.model import (
    BUNDLE_CONTENT_TYPE,
    MAX_BUNDLE_BYTES,
    MAX_REVOCATION_LIST_BYTES,
    MAX_ROOT_CHAIN,
    MAX_SIGNING_CERTIFICATES,
    REVOCATIONS_CONTENT_TYPE,
    CityMismatchError,
    ExpiredTrustDataError,
    FingerprintMismatchError,
    RevocationList,
    RevokedCard,
    RollbackError,
    RootRotationError,
    SigningKeyInfo,
    SigningKeyMismatchError,
    TrustBundle,
    TrustError,
    TrustFormatError,
    TrustSignatureError,
    UntrustedRootError,
    UntrustedSigningCertificateError,
    make_bundle,
    make_revocation_list,
)
from cardservice.trust.state import PartnerTrustAnchors, TrustedState

__all__ = [
    "ALLIANCE_CONTENT_TYPE",
    "MAX_ALLIANCE_BYTES",
    "AllianceMember",
    "AllianceMismatchError",
    "AllianceState",
    "InsufficientSignaturesError",
    "MemberList",
    "MemberListChanges",
    "MemberListDocument",
    "SignatureCount",
    "UnconfirmedFingerprintsError",
    "BUNDLE_CONTENT_TYPE",
    "MAX_BUNDLE_BYTES",
    "MAX_REVOCATION_LIST_BYTES",
    "MAX_ROOT_CHAIN",
    "MAX_SIGNING_CERTIFICATES",
    "REVOCATIONS_CONTENT_TYPE",
    "CityMismatchError",
    "ExpiredTrustDataError",
    "FingerprintMismatchError",
    "PartnerTrustAnchors",
    "RevocationList",
    "RevokedCard",
    "RollbackError",
    "RootRotationError",
    "SigningKeyMismatchError",
    "SigningKeyInfo",
    "TrustBundle",
    "TrustError",
    "TrustFormatError",
    "TrustSignatureError",
    "TrustedState",
    "UntrustedRootError",
    "UntrustedSigningCertificateError",
    "bundle_to_json",
    "decode_bundle_unverified",
    "decode_revocations_unverified",
    "make_bundle",
    "make_revocation_list",
    "revocations_to_json",
    "sign_bundle",
    "sign_revocations",
]
