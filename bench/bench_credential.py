"""Card verification rate against a bare Ed25519 verify on the same machine, same run.

Prints both rates (per CPU-second of this process, one core) and their ratio; the
target is a ratio of at least 0.8. Rates use process CPU time rather than wall time,
and the two loops alternate in short rounds; each loop's best round is compared, so
other work on the machine (2 shared cores here) disturbs the figure as little as
possible. The exit status is 1 when the ratio is below 0.8.

    .venv/bin/python bench/bench_credential.py [--rounds N] [--seconds S]
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time

import base45
import cbor2
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from cardservice import credential, pki

NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)


def _rate(fn, seconds: float) -> float:
    """Calls per CPU-second of ``fn`` over about ``seconds`` of CPU time."""
    n = 0
    batch = 100
    start = time.process_time()
    end = start + seconds
    while True:
        for _ in range(batch):
            fn()
        n += batch
        t = time.process_time()
        if t >= end:
            return n / (t - start)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--seconds", type=float, default=0.2, help="per loop per round")
    args = parser.parse_args()

    root_key, root_cert = pki.generate_root(city_id="PTLIS", city_name="Lisboa", now=NOW)
    signing_key, signing_cert = pki.issue_signing_certificate(
        root_key=root_key,
        root_cert=root_cert,
        now=NOW,
        not_after=NOW + dt.timedelta(days=6 * 366),
    )
    # A second city in the trust store, so lookups are not trivially the only entry.
    other_key, other_root = pki.generate_root(city_id="FRLYS", city_name="Lyon", now=NOW)
    _k, other_signing = pki.issue_signing_certificate(
        root_key=other_key,
        root_cert=other_root,
        now=NOW,
        not_after=NOW + dt.timedelta(days=6 * 366),
    )
    trust = credential.StaticTrustAnchors(
        roots=[root_cert, other_root], signing_certificates=[signing_cert, other_signing]
    )
    claims = credential.CardClaims(
        issuer="PTLIS",
        serial="K7Q2M9XD4PP",
        issued_at=NOW,
        expires_at=NOW + dt.timedelta(days=5 * 365),
        holder=credential.Holder(
            name="Maria Fernanda da Conceição Oliveira",
            date_of_birth=dt.date(1984, 7, 9),
            gender="F",
        ),
    )
    qr = credential.encode_card(claims, signer_key=signing_key, signer_cert=signing_cert)
    later = NOW + dt.timedelta(days=30)
    credential.verify_card(qr, trust=trust, now=later)  # warm the caches

    # The bare baseline: the card's own signature over its own Sig_structure bytes.
    message_parts = cbor2.loads(base45.b45decode(qr[len(credential.PREFIX) :])).value
    protected, _unprotected, payload, signature = message_parts
    message = cbor2.dumps(["Signature1", protected, b"", payload])
    public = signing_cert.public_key()
    assert isinstance(public, Ed25519PublicKey)
    public.verify(signature, message)

    def bare() -> None:
        public.verify(signature, message)

    def full() -> None:
        credential.verify_card(qr, trust=trust, now=later)

    bare_rates, full_rates = [], []
    for _ in range(args.rounds):
        bare_rates.append(_rate(bare, args.seconds))
        full_rates.append(_rate(full, args.seconds))
    # Each loop's best round is its least disturbed one (the estimator timeit
    # recommends); the medians are printed too, to show how noisy the machine was.
    best_bare, best_full = max(bare_rates), max(full_rates)
    ratio = best_full / best_bare
    median_ratio = statistics.median(full_rates) / statistics.median(bare_rates)
    print(f"QR length: {len(qr)} characters")
    print(f"bare Ed25519 verify:          {best_bare:9.0f} /s (best of {args.rounds} rounds)")
    print(f"decode + verify_card (warm):  {best_full:9.0f} /s (best of {args.rounds} rounds)")
    print(f"ratio: {ratio:.3f} (target >= 0.80); ratio of medians {median_ratio:.3f}")
    print(
        "per-round ratios: "
        + " ".join(f"{f / b:.3f}" for f, b in zip(full_rates, bare_rates, strict=True))
    )
    return 0 if ratio >= 0.8 else 1


if __name__ == "__main__":
    sys.exit(main())
