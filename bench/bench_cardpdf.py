"""Benchmark card rendering: cards/s against QR encoding alone, a 500-card batch, two cores.

Run: .venv/bin/python bench/bench_cardpdf.py [--batch 500] [--cards 120]

Every figure is measured in the same run, with the same realistic QR text ("LC1:" + 256
Base45 characters, QR version 12 at level Q), so the ratios hold on any machine:

1. QR encodings/s (segno through cardservice.qr.encode_qr, and segno alone) — the baseline;
2. render_card_pdf cards/s (photo, two label languages) and its ratio to (1);
3. a batch of --batch cards into A4 sheets with render_sheet_pdf: time, pages, size;
4. two worker processes each rendering half the batch as single-card PDFs: cards/s on two
   cores, and the speed-up over one process.
"""

from __future__ import annotations

import argparse
import io
import multiprocessing as mp
import os
import random
import sys
import time
from dataclasses import replace
from datetime import date

import pypdfium2 as pdfium
import segno
from PIL import Image, ImageDraw

from cardservice.branding import Branding
from cardservice.cardpdf import CardFace, CardLabels, render_card_pdf, render_sheet_pdf
from cardservice.photo import process_photo
from cardservice.qr import encode_qr

BASE45 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"

EN = CardLabels(
    title="Local citizenship card",
    name="Name",
    preferred_name="Preferred name",
    date_of_birth="Date of birth",
    gender="Gender",
    serial="Serial",
    issued="Issued",
    expires="Expires",
    languages="Languages",
    back_notice="This card shows its holder lives in {city}. It says nothing about immigration "
    "status.",
)
PT = CardLabels(
    title="Cartão de cidadania local",
    name="Nome",
    preferred_name="Nome preferido",
    date_of_birth="Data de nascimento",
    gender="Género",
    serial="Número",
    issued="Emitido",
    expires="Válido até",
    languages="Línguas",
    back_notice="Este cartão mostra que o titular vive em {city}. Nada diz sobre a situação "
    "migratória.",
)
NAMES = [
    "Łukasz Żółć-Grüßmann",
    "Nguyễn Thị Minh Khai",
    "Александра Петровна Иванова",
    "Γεώργιος Παπαδόπουλος",
    "محمد عبد الله",
    "Maria da Conceição Sousa",
]


def qr_text(rnd: random.Random) -> str:
    return "LC1:" + "".join(rnd.choice(BASE45) for _ in range(256))


def sample_photo(i: int) -> bytes:
    """A distinct 600 x 800 photo per card, so sheets embed one image per card as in real use."""
    image = Image.new("RGB", (600, 800), (180, 200, (230 + i) % 256))
    draw = ImageDraw.Draw(image)
    draw.ellipse((175, 150, 425, 475), fill=(225, 185 - i % 50, 155))
    draw.ellipse((75, 500, 525, 1000), fill=(60, 80, 120 + i % 100))
    draw.text((20, 20), f"{i}", fill=(0, 0, 0))
    buf = io.BytesIO()
    image.save(buf, format="JPEG", quality=90)
    return process_photo(buf.getvalue())


def make_faces(count: int, seed: int = 1) -> list[CardFace]:
    rnd = random.Random(seed)
    base = CardFace(
        city_id="PTLIS",
        city_name="Lisboa",
        serial="PTLIS-0000-0000",
        issued_at=date(2026, 11, 3),
        expires_at=date(2031, 11, 2),
        name=NAMES[0],
        date_of_birth=date(1990, 5, 17),
        gender="F",
        languages=("Português", "English"),
        qr_text=qr_text(rnd),
        labels=(PT, EN),
    )
    return [
        replace(
            base,
            serial=f"PTLIS-{i // 10000:04d}-{i % 10000:04d}",
            name=NAMES[i % len(NAMES)],
            qr_text=qr_text(rnd),
            photo_jpeg=sample_photo(i),
        )
        for i in range(count)
    ]


def rate(fn, items) -> tuple[float, float]:
    """Run fn over items; return (items per second, seconds)."""
    start = time.perf_counter()
    for item in items:
        fn(item)
    elapsed = time.perf_counter() - start
    return len(items) / elapsed, elapsed


def _worker_init() -> None:
    render_card_pdf(make_faces(1, seed=99)[0])  # fonts registered, code warm


def _render_chunk(faces: list[CardFace]) -> int:
    return sum(len(render_card_pdf(face)) for face in faces)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=500, help="cards in the batch (500)")
    parser.add_argument("--cards", type=int, default=120, help="cards for the single-card rate")
    args = parser.parse_args()

    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, pid {os.getpid()}")
    faces = make_faces(max(args.batch, args.cards))
    texts = [f.qr_text for f in faces[: args.cards * 2]]
    m = encode_qr(texts[0])
    print(
        f"payload: {len(texts[0])} characters, QR version {m.version}, level {m.error}, "
        f"{m.mode} mode, {m.size}x{m.size} modules"
    )

    # Warm up: font registration, shaping caches, imports.
    for face in faces[:3]:
        render_card_pdf(face)

    # 1. Baseline: QR encoding alone, same payloads.
    qr_rate, _ = rate(encode_qr, texts)
    segno_rate, _ = rate(lambda t: segno.make_qr(t, error="q", boost_error=False), texts)
    print(
        f"\n[1] QR encoding alone   : {qr_rate:7.1f} codes/s (encode_qr), "
        f"{segno_rate:7.1f} codes/s (segno.make_qr)"
    )

    # 2. Whole card PDFs.
    card_rate, _ = rate(render_card_pdf, faces[: args.cards])
    size = len(render_card_pdf(faces[0]))
    print(f"[2] render_card_pdf      : {card_rate:7.1f} cards/s ({size / 1024:.0f} kB each)")
    print(
        f"    ratio cards/QR       : {card_rate / qr_rate:7.2f}  "
        f"(QR encoding is ~{100 * card_rate / qr_rate:.0f}% of a card's time)"
    )
    # 2b. The same cards in a city's colours, with its emblem on both sides.
    emblem = io.BytesIO()
    Image.new("RGBA", (256, 256), (200, 16, 46, 255)).save(emblem, "PNG")
    branding = Branding(colour="#c8102e", emblem=emblem.getvalue(), emblem_type="image/png",
                        return_to="Hôtel de Ville, 1 place de la Comédie, Lyon")
    branded = [replace(f, branding=branding, check_url="https://carte.lyon.example/verify")
               for f in faces[: args.cards]]
    branded_rate, _ = rate(render_card_pdf, branded)
    print(f"    branded (emblem)     : {branded_rate:7.1f} cards/s "
          f"({len(render_card_pdf(branded[0])) / 1024:.0f} kB each), "
          f"ratio branded/plain {branded_rate / card_rate:.2f}")

    # 3. A batch into A4 sheets.
    batch = faces[: args.batch]
    start = time.perf_counter()
    done: list[int] = []
    sheet = render_sheet_pdf(batch, progress=lambda n, total: done.append(n))
    sheet_time = time.perf_counter() - start
    pages = len(pdfium.PdfDocument(sheet))
    print(
        f"[3] sheet of {len(batch)} cards  : {sheet_time:6.2f} s, {len(batch) / sheet_time:6.1f} "
        f"cards/s, {pages} A4 pages, {len(sheet) / 1e6:.1f} MB, "
        f"{len(done)} progress calls"
    )
    print(f"    ratio sheet/QR       : {len(batch) / sheet_time / qr_rate:7.2f}")

    # 4. Two processes, each rendering half the batch as single-card PDFs.
    half = len(batch) // 2
    chunks = [batch[:half], batch[half:]]
    single_rate, single_time = rate(render_card_pdf, batch[: len(batch) // 4])
    with mp.get_context("fork").Pool(2, initializer=_worker_init) as pool:
        pool.map(time.sleep, [0.2, 0.2])  # wait until both workers are up and warm
        start = time.perf_counter()
        total_bytes = sum(pool.map(_render_chunk, chunks, chunksize=1))
        two_time = time.perf_counter() - start
    two_rate = len(batch) / two_time
    print(
        f"[4] one process          : {single_rate:7.1f} cards/s "
        f"({len(batch) // 4} cards in {single_time:.2f} s)"
    )
    print(
        f"    two processes        : {two_rate:7.1f} cards/s "
        f"({len(batch)} cards in {two_time:.2f} s, {total_bytes / 1e6:.1f} MB)"
    )
    print(f"    speed-up on 2 cores  : {two_rate / single_rate:7.2f}x")
    print(f"    ratio 2 cores/QR     : {two_rate / qr_rate:7.2f}")


if __name__ == "__main__":
    main()
