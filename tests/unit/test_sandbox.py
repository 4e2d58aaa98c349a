"""The sandbox: uploads decoded in a limited child process, a bounded number at once.

Real child processes throughout; the hostile files are those of ``tests/hostile.py``.
"""

from __future__ import annotations

import io
import threading
import time

import pytest
from PIL import Image

from cardservice import photo, qr
from cardservice.sandbox import (
    Limits,
    Sandbox,
    SandboxBusyError,
    _child_environment,
    _exception_name,
    _Gate,
)
from tests.hostile import hex_wrapped_pdf, huge_page_pdf, white_png

TEXT = "LC1:6BFOXN*TS0BI$ZD4N9:9S6RCVN5+O30K3/XIV0W23NTDEXWK G2EP4J0B3KL6QM5/OVGA/MAT%ZSN"
ROOMY = Limits(cpu_seconds=10, memory_bytes=512 * 1024 * 1024, wall_seconds=60)


def sandbox(limits: Limits = ROOMY, *, concurrent: int = 2, waiting: int = 0,
            wait_seconds: float = 0.0) -> Sandbox:
    return Sandbox(limits, concurrent=concurrent, waiting=waiting, wait_seconds=wait_seconds)


def png_of(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def test_reads_a_code_in_a_child():
    assert sandbox().read_qr(png_of(qr.encode_qr(TEXT).to_image(scale=6))) == TEXT


@pytest.mark.parametrize("data, error, message", [
    (png_of(Image.new("L", (300, 300), 255)), qr.QrNotFoundError, "no readable QR code"),
    (b"GIF89a not a picture", qr.UnreadableFileError, "not a PNG, JPEG"),
    (white_png(), qr.QrInputTooLargeError, "7740x7740 pixels"),
    (huge_page_pdf(), qr.QrInputTooLargeError, "14400 x 14400 points"),
], ids=["no code", "not a picture", "white 7740 x 7740 PNG", "14400 pt page"])
def test_the_decoders_errors_come_back_typed(data, error, message):
    with pytest.raises(error, match=message) as caught:
        sandbox().read_qr(data)
    assert type(caught.value) is error


def test_what_escapes_the_parsers_budget_is_stopped_by_the_childs_limit():
    # Flate inside ASCIIHex: the byte budget does not undo it, and PDFium builds all the
    # fills while loading the page. In-process (tests/unit/budget.py) this file cost
    # 6.7 s of CPU and +1,035 MB before the object count refused it.
    tight = Limits(cpu_seconds=5, memory_bytes=384 * 1024 * 1024, wall_seconds=60)
    start = time.monotonic()
    with pytest.raises(qr.QrInputTooLargeError, match="more time or memory"):
        sandbox(tight).read_qr(hex_wrapped_pdf())
    assert time.monotonic() - start < 30


def test_a_child_over_its_wall_clock_is_killed():
    # A child cannot even start in 10 ms: the wall clock stops it, whatever the file.
    hasty = Limits(cpu_seconds=5, memory_bytes=512 * 1024 * 1024, wall_seconds=0.01)
    with pytest.raises(qr.QrInputTooLargeError, match="more time or memory"):
        sandbox(hasty).read_qr(png_of(Image.new("L", (300, 300), 255)))


def test_a_file_over_the_size_limit_starts_no_child():
    with pytest.raises(qr.QrInputTooLargeError, match="largest accepted"):
        sandbox().read_qr(b"\0" * (qr.MAX_FILE_BYTES + 1))


def test_photos_are_processed_in_a_child():
    buf = io.BytesIO()
    Image.new("RGB", (1200, 1600), "teal").save(buf, format="JPEG")
    out = sandbox().process_photo(buf.getvalue(), max_bytes=5_000_000)
    assert Image.open(io.BytesIO(out)).size == (600, 800)
    with pytest.raises(photo.PhotoTooSmallError):
        sandbox().process_photo(png_of(Image.new("RGB", (100, 100))), max_bytes=5_000_000)
    with pytest.raises(photo.PhotoTooLargeError, match="largest accepted"):
        sandbox().process_photo(b"x" * 1001, max_bytes=1000)


def test_the_child_gets_none_of_the_servers_environment(monkeypatch):
    monkeypatch.setenv("CARDSERVICE_SECRET_KEY", "s" * 40)
    monkeypatch.setenv("CARDSERVICE_KEY_PASSPHRASE", "secret")
    env = _child_environment()
    assert not [name for name in env if name.startswith("CARDSERVICE_")]
    assert set(env) == {"PYTHONPATH", "PATH", "LC_ALL", "OMP_NUM_THREADS",
                        "PYTHONDONTWRITEBYTECODE"}


def test_a_decoder_that_fails_unexpectedly_is_logged_without_what_it_read(caplog):
    """The child's stderr may quote the file (a card's text): only the exception's name."""
    failed = qr.UnreadableFileError("the file could not be read")
    with caplog.at_level("ERROR", logger="cardservice.sandbox"), \
            pytest.raises(qr.UnreadableFileError):
        # An unknown task makes the child exit with a message quoting its argument.
        sandbox()._run([TEXT], b"", over_limit=qr.QrInputTooLargeError("x"), failed=failed)
    assert "upload decoder failed (exit 1)" in caplog.text
    assert TEXT not in caplog.text and "LC1:" not in caplog.text


@pytest.mark.parametrize(("stderr", "logged"), [
    (b"Traceback (most recent call last):\n  ...\nValueError: bad name \xc3\xa9lise\n",
     "ValueError"),
    (b"zxing.ReaderException: LC1:ABC\n", "zxing.ReaderException"),
    (b"unknown task 'LC1:ABC'\n", "no Python exception (see exit status)"),
    (b"", "no Python exception (see exit status)"),
])
def test_only_the_exception_name_of_a_failure_is_kept(stderr, logged):
    assert _exception_name(stderr) == logged


# --- the gate: at most N at once, at most W waiting, the others refused at once ------------

def test_gate_refuses_at_once_when_full_and_nobody_may_wait():
    gate = _Gate(slots=1, waiting=0, wait_seconds=5)
    with gate.slot():
        start = time.monotonic()
        with pytest.raises(SandboxBusyError), gate.slot():
            pass
        assert time.monotonic() - start < 0.5
    with gate.slot():  # released: free again
        pass


def test_gate_lets_one_wait_and_refuses_the_next():
    gate = _Gate(slots=1, waiting=1, wait_seconds=5)
    holding, waited, release = threading.Event(), [], threading.Event()

    def hold():
        with gate.slot():
            holding.set()
            release.wait(10)

    def wait_for_slot():
        with gate.slot():
            waited.append(True)

    holder = threading.Thread(target=hold)
    holder.start()
    holding.wait(10)
    waiter = threading.Thread(target=wait_for_slot)
    waiter.start()
    deadline = time.monotonic() + 5
    while gate._waiting == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    # One is waiting already: no second waiter.
    with pytest.raises(SandboxBusyError), gate.slot():
        pass
    release.set()
    holder.join(10)
    waiter.join(10)
    assert waited == [True]


def test_gate_gives_up_waiting_after_the_wait():
    gate = _Gate(slots=1, waiting=1, wait_seconds=0.2)
    with gate.slot():
        start = time.monotonic()
        with pytest.raises(SandboxBusyError), gate.slot():
            pass
        assert 0.15 < time.monotonic() - start < 2
