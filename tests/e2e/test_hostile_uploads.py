"""Issue 11, finding 1: hostile uploads must not starve other requests.

A real server (``cardservice serve``: one gunicorn worker, 4 threads, the default
``[uploads]`` limits) takes uploads from 10 clients that send hostile files again and
again, while ``/healthz`` is timed and the server's memory is read from ``/proc``.
The bounds are functional guards, not benchmarks (``bench/bench_hostile_uploads.py``
prints the numbers): before the sandbox, 10 such uploads made ``/healthz`` wait
seconds and a worker grew past 1 GB.
"""

from __future__ import annotations

import pytest

from tests import hostile
from tests.e2e.cities import City
from tests.e2e.hostile_load import post_upload, storm

pytestmark = pytest.mark.slow

FILES = [
    ("flate-in-hex.pdf", hostile.hex_wrapped_pdf()),
    ("huge-page.pdf", hostile.huge_page_pdf()),
    ("flate-in-hex-2.pdf", hostile.hex_wrapped_pdf()),
    ("white-7740.png", hostile.white_png()),
]


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    city = City(tmp_path_factory.mktemp("hostile"), city_id="PTLIS", name="Lisboa",
                with_clerk=False)
    try:
        city.setup()
        city.start()
        yield city
    finally:
        city.stop()


def test_healthz_answers_and_memory_stays_bounded_under_10_hostile_uploads(city):
    assert city.process is not None
    result = storm(city.url, city.process.pid, FILES, clients=10, probes=10)
    # The probes ran while the clients' uploads were being answered.
    assert min(result.uploads_in_flight_at_probes) >= 5, result
    assert result.healthz_statuses == [200] * 10, result
    assert max(result.healthz_seconds) < 1.0, result
    assert result.server_peak_mb < 300, result
    # Every hostile upload is refused with a reason (413) or told to come back (503):
    # some were decoded (and refused), the others found every decoding slot taken.
    assert set(result.upload_statuses) <= {413, 503}, result
    assert result.upload_statuses[413] >= 1 and result.upload_statuses[503] >= 1, result


def test_an_ordinary_upload_is_read_after_the_storm(city):
    import io

    from cardservice import qr

    buf = io.BytesIO()
    qr.encode_qr("LC1:NOTACARD").to_image(scale=4).save(buf, format="PNG")
    # The code is read (the verdict is "malformed", a 200): the sandbox works again.
    assert post_upload(city.url, "card.png", buf.getvalue()) == 200
