"""What it costs to refuse a forged revocation list (issue 11, finding 8).

Builds a revocation list of about 16 MB (real entries, canonical CBOR) carrying an
all-zero signature under the partner root's kid, and offers it to a held trusted state.
Prints the CPU time and the peak of memory allocated while it is refused (tracemalloc,
which slows the run down a little), then the same for the genuine list signed by the
root, which has to be decoded in full. Before the signature was checked first, the
forged list cost about as much as the genuine one.

    .venv/bin/python bench/bench_trust_documents.py [--megabytes N]
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
import tracemalloc
from collections.abc import Callable

import cbor2

from cardservice import cose, pki, trust

NOW = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)


def _measure(label: str, action: Callable[[], object]) -> None:
    tracemalloc.start()
    start = time.process_time()
    try:
        action()
        outcome = "accepted"
    except trust.TrustError as exc:
        outcome = f"refused ({type(exc).__name__})"
    cpu = time.process_time() - start
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"{label:<32} {outcome:<36} {cpu * 1000:9.1f} ms CPU  {peak / 2**20:7.1f} MiB peak")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=float, default=16.0)
    args = parser.parse_args()

    key, root = pki.generate_root(city_id="PTLIS", city_name="Lisboa", now=NOW - 400 * DAY)
    skey, scert = pki.issue_signing_certificate(
        root_key=key, root_cert=root, now=NOW - 400 * DAY, not_after=NOW + 1000 * DAY
    )
    content = trust.TrustBundle(
        city_id="PTLIS", city_name="Lisboa", names={}, base_url="https://ptlis.example",
        version=1, issued_at=NOW - DAY, expires_at=NOW + 6 * DAY, root=root,
        previous_root=None, signing_certificates=(scert,),
        revocations_url="https://ptlis.example/.well-known/citycard/revocations",
    )
    state = trust.TrustedState.from_pinned_bundle(
        trust.sign_bundle(content, root_keys=[key]), fingerprint=pki.fingerprint(root), now=NOW
    )
    count = int(args.megabytes * 2**20) // 26
    expires = NOW + 300 * DAY
    rl = trust.RevocationList(
        city_id="PTLIS", sequence=1, issued_at=NOW - DAY, next_update=NOW + DAY,
        revoked=tuple(trust.RevokedCard(f"PT-{i:09d}", expires, "lost") for i in range(count)),
    )
    genuine = trust.sign_revocations(rl, root_key=key, root=root)
    message = cbor2.loads(genuine)
    message.value[3] = bytes(64)
    forged = cbor2.dumps(message)
    other = cose.sign1(message.value[2], key=skey, kid=pki.key_id(scert),
                       content_type=trust.REVOCATIONS_CONTENT_TYPE)
    del rl, message
    print(f"revocation list: {len(genuine) / 2**20:.1f} MiB, {count} entries")
    _measure("zeroed signature", lambda: state.update_revocations(forged, now=NOW))
    _measure("signed by a key not the root", lambda: state.update_revocations(other, now=NOW))
    _measure("genuine (decoded in full)", lambda: state.update_revocations(genuine, now=NOW))


if __name__ == "__main__":
    main()
