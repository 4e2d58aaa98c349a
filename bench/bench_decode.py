"""Read rate and time of the server's QR decoder over card backs, dpi by dpi.

Card backs of every name in tests/unit/cardbacks.py are rendered by PDFium, by poppler
(``pdftoppm``, anti-aliased as by default) and by poppler without anti-aliasing
(``-mono``, a bilevel scanner or fax), at every dpi from 80 to 300 in steps of 10, plus
phone-like photos (blur, blur with low contrast, rotation with tilt; JPEG quality 40).
Each is read by ``cardservice.qr.read_qr`` and, for comparison, by a single zxing-cpp
pass (what read_qr did before it tried sharpened and upscaled copies). Then the worst
case: 12-megapixel JPEG photos with no code, through ``read_qr_from_file``.

    .venv/bin/python bench/bench_decode.py [--step 10] [--renderers pdfium,poppler,mono]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import zxingcpp
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cardservice import qr  # noqa: E402
from tests.unit import cardbacks as cb  # noqa: E402

_QR_ONLY = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)


def single_pass(image: Image.Image) -> str | None:
    """The decoder as it was: one zxing-cpp pass over the grey image."""
    if image.mode not in ("L", "RGB"):
        image = image.convert("L")
    for r in zxingcpp.read_barcodes(image, formats=_QR_ONLY):
        if r.valid and r.text:
            return str(r.text)
    return None


def read(image: Image.Image) -> str | None:
    try:
        return qr.read_qr(image)
    except qr.QrNotFoundError:
        return None


def render_mono(pdf: bytes, page: int, dpi: int) -> Image.Image:
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "c.pdf").write_bytes(pdf)
        subprocess.run(["pdftoppm", "-r", str(dpi), "-f", str(page + 1), "-l",  # noqa: S603,S607
                        str(page + 1), "-singlefile", "-mono", f"{tmp}/c.pdf", f"{tmp}/o"],
                       check=True)
        with Image.open(f"{tmp}/o.pbm") as img:
            return img.convert("L")


RENDERERS = {"pdfium": cb.render_pdfium, "poppler": cb.render_poppler, "mono": render_mono}


def photo(kind: str, image: Image.Image) -> Image.Image:
    table = cb.on_table(image)
    if kind == "blur 1.5":
        out = cb.blurred(table, 1.5)
    elif kind == "blur 1.5 + low contrast + rotated 10":
        out = cb.low_contrast(cb.blurred(cb.rotated(table, 10), 1.5), 0.5)
    elif kind == "blur 2":
        out = cb.blurred(table, 2.0)
    else:  # "rotated -8 + tilt + blur 1.2"
        out = cb.blurred(cb.tilted(cb.rotated(table, -8), 0.15), 1.2)
    return Image.open(io.BytesIO(cb.jpeg(out, 40))).convert("L")


def row(label: str, images: list[tuple[str, Image.Image]]) -> tuple[int, int, int]:
    new = old = 0
    times = []
    for text, image in images:
        old += single_pass(image) == text
        t0 = time.perf_counter()
        new += read(image) == text
        times.append(time.perf_counter() - t0)
    n = len(images)
    print(f"{label:44s} before {old:3d}/{n}  after {new:3d}/{n}  "
          f"median {statistics.median(times) * 1000:6.1f} ms  max {max(times) * 1000:6.1f} ms",
          flush=True)
    return old, new, n


def worst_case() -> None:
    pictures = {
        "smooth scene": cb.noise_picture(4000, 3000, seed=3),
        "textured scene": Image.blend(cb.noise_picture(4000, 3000, seed=4),
                                      Image.effect_noise((4000, 3000), 60).convert("RGB"), 0.5),
        "blocky noise": Image.effect_noise((400, 300), 100).point(
            lambda v: 255 if v > 128 else 0).resize((4000, 3000),
                                                   Image.Resampling.NEAREST).convert("RGB"),
    }
    print("\n12 MP JPEG photos with no code, read_qr_from_file (median of 5):")
    for name, picture in pictures.items():
        data = cb.jpeg(picture, 90)
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            with contextlib.suppress(qr.QrNotFoundError):
                qr.read_qr_from_file(data)
            times.append(time.perf_counter() - t0)
        print(f"  {name:16s} {statistics.median(times) * 1000:7.1f} ms  "
              f"(max {max(times) * 1000:.1f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--step", type=int, default=10)
    parser.add_argument("--renderers", default="pdfium,poppler,mono")
    args = parser.parse_args()
    cards = [cb.card(i) for i in range(len(cb.NAMES))]
    print(f"{len(cards)} card backs, QR versions "
          f"{sorted({qr.encode_qr(t).version for t, _ in cards})}")
    totals = [0, 0, 0]
    for renderer in args.renderers.split(","):
        for dpi in range(80, 301, args.step):
            images = [(t, RENDERERS[renderer](pdf, 1, dpi)) for t, pdf in cards]
            for i, v in enumerate(row(f"{renderer} {dpi} dpi", images)):
                totals[i] += v
    for kind in ("blur 1.5", "blur 2", "blur 1.5 + low contrast + rotated 10",
                 "rotated -8 + tilt + blur 1.2"):
        for dpi in (150, 200):
            images = [(t, photo(kind, cb.render_pdfium(pdf, 1, dpi))) for t, pdf in cards]
            for i, v in enumerate(row(f"photo {dpi} dpi, {kind}", images)):
                totals[i] += v
    print(f"\nall: before {totals[0]}/{totals[2]} ({totals[0] / totals[2]:.1%}), "
          f"after {totals[1]}/{totals[2]} ({totals[1] / totals[2]:.1%})")
    worst_case()


if __name__ == "__main__":
    main()
