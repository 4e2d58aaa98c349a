"""A real city served by ``cardservice serve`` in a subprocess, and Debian's Chromium.

The city is driven exactly as operators' scripts drive one (SPEC §7): ``init``,
``users add``, ``users token``, ``serve``; cards are made through the JSON API and
printed as the real PDF. One server per test module keeps the browser suite fast.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import IN_CI, TEST_PASSPHRASE, TEST_SECRET, skip_or_fail

EXE = Path(sys.executable).parent / "cardservice"
CHROMIUM = "/usr/bin/chromium"
# Playwright's assertions wait 5 s by default: too short for a page that verifies a card
# or renders a PDF while CI shares two cores with a browser and a server.
EXPECT_TIMEOUT_MS = 20_000
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class LiveCity:
    """One city instance: its config, a clerk's API token, and the server process."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        keys = base / "keys"
        self.config = base / "city.toml"
        self.config.write_text(
            f'[city]\nid = "PTLIS"\nname = "Lisboa"\nbase_url = "{self.url}"\n'
            f'languages = ["en", "fr"]\n\n'
            f'[database]\nurl = "sqlite:///{base / "city.db"}"\n\n[keys]\ndir = "{keys}"\n\n'
            f'[server]\ninstance_dir = "{base / "instance"}"\nsecure_cookies = false\n\n'
            # Browser tests check many cards in a minute; the limit has its own tests.
            f'[verify]\nrate_limit = "10000 per minute"\n',
            encoding="utf-8")
        self.env = {**os.environ, "CARDSERVICE_CONFIG": str(self.config),
                    "CARDSERVICE_SECRET_KEY": TEST_SECRET,
                    "CARDSERVICE_KEY_PASSPHRASE": TEST_PASSPHRASE}
        self.process: subprocess.Popen[bytes] | None = None
        self.log = base / "server.log"
        self.token = ""

    def cli(self, *args: str) -> str:
        """Run ``cardservice <args>``; its stdout."""
        done = subprocess.run([str(EXE), *args], env=self.env, capture_output=True, text=True,
                              timeout=120, check=False)
        assert done.returncode == 0, f"cardservice {' '.join(args)}: {done.stderr}{done.stdout}"
        return done.stdout

    def setup(self) -> None:
        """``init``, then a clerk with an API token."""
        self.cli("init", "--admin", "boss")
        self.cli("users", "add", "clerk1", "--role", "clerk")
        self.token = self.cli("users", "token", "clerk1").strip().splitlines()[-1]

    def start(self) -> None:
        """Serve, and wait until ``/healthz`` answers."""
        assert self.process is None
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [str(EXE), "serve", "--host", "127.0.0.1", "--port", str(self.port),
                 "--workers", "1"],
                env=self.env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"server exited: {self.log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=2) as resp:
                    if resp.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        raise AssertionError(f"server did not start: {self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        """Stop the server and wait until its port is closed."""
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None

    def api(self, method: str, path: str, body: Any = None) -> Any:
        """Call the JSON API as the clerk; the decoded body (or raw bytes for non-JSON)."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method, headers={
            "Authorization": f"Bearer {self.token}", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                raw = resp.read()
                if resp.headers.get_content_type() == "application/json":
                    return json.loads(raw)
                return raw
        except urllib.error.HTTPError as exc:
            raise AssertionError(f"{method} {path}: {exc.code} {exc.read()[:500]!r}") from exc

    def issue_card(self, given: str, family: str, date_of_birth: str) -> dict[str, Any]:
        """Register a resident and issue a card; the issue answer (serial, qr, ...)."""
        resident = self.api("POST", "/api/v1/residents", {
            "given_names": given, "family_names": family, "date_of_birth": date_of_birth,
            "gender": "F", "address": {"line1": "Rua das Flores 12", "postcode": "1200-195"},
            "languages": ["Português"], "documents": ["passport", "utility_bill"],
            "confirm_new": True,
        })
        card: dict[str, Any] = self.api("POST", f"/api/v1/residents/{resident['id']}/cards")
        return card

    def card_png(self, serial: str, path: Path, *, dpi: int = 200) -> Path:
        """The printed card's QR side (page 2 of its PDF), rendered to a PNG at ``dpi``."""
        import pypdfium2 as pdfium

        pdf_bytes = self.api("GET", f"/api/v1/cards/{serial}/pdf")
        assert pdf_bytes[:5] == b"%PDF-"
        pdf = pdfium.PdfDocument(pdf_bytes)
        try:
            from cardservice import qr

            for index in range(len(pdf)):
                image = pdf[index].render(scale=dpi / 72).to_pil()
                buf = io.BytesIO()
                image.save(buf, "PNG")
                try:
                    qr.read_qr(image)
                except qr.QrNotFoundError:
                    continue
                path.write_bytes(buf.getvalue())
                return path
        finally:
            pdf.close()
        raise AssertionError("no page of the card PDF holds a QR code")

    def card_pdf(self, serial: str, path: Path) -> Path:
        """The printable card PDF, saved to ``path``."""
        path.write_bytes(self.api("GET", f"/api/v1/cards/{serial}/pdf"))
        return path


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveCity]:
    """A running city for this test module."""
    if not EXE.exists():
        pytest.fail(f"{EXE} is missing: install the package (pip install -e .)")
    live = LiveCity(tmp_path_factory.mktemp("city"))
    live.setup()
    live.start()
    try:
        yield live
    finally:
        live.stop()


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """Debian's Chromium (Playwright's own download does not work on these machines)."""
    path = CHROMIUM if os.path.exists(CHROMIUM) else shutil.which("chromium")
    if not path:
        skip_or_fail(f"{CHROMIUM} is not installed (apt-get install chromium)")
    assert path is not None
    return path


@pytest.fixture(scope="session")
def playwright_instance() -> Iterator[Any]:
    """Playwright's driver, once per session."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        skip_or_fail("the playwright package is not installed")
    from playwright.sync_api import expect

    expect.set_options(timeout=EXPECT_TIMEOUT_MS)
    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="session")
def browser(playwright_instance: Any, chromium_path: str) -> Iterator[Any]:
    """Headless Chromium whose fake camera shows nothing in particular."""
    b = playwright_instance.chromium.launch(
        executable_path=chromium_path, args=CHROMIUM_ARGS, headless=True)
    yield b
    b.close()


def launch_with_camera(playwright_instance: Any, chromium_path: str, video: Path) -> Any:
    """Chromium whose (fake) camera films ``video``, a Y4M file."""
    return playwright_instance.chromium.launch(
        executable_path=chromium_path, headless=True,
        args=[*CHROMIUM_ARGS, "--use-fake-device-for-media-stream",
              f"--use-file-for-fake-video-capture={video}"])


__all__ = ["IN_CI", "LiveCity", "launch_with_camera"]
