"""Render the front and back of a branded card for three cities into docs/cards/.

Each city is a real one-off city in a temporary directory (SQLite, its own keys),
configured with an emblem and a colour; a demo resident is registered and a card issued
through the application layer, exactly as a clerk would, and the card PDF the clerk
prints is rendered to PNG with PDFium at 300 dpi. The QR code on each back is a real,
signed credential of that throwaway city.

With ``--scripts``, one city also issues a card to a name in each of many scripts (the
clerk's way: registration proposes the Latin line, which is accepted as proposed) and the
fronts are put side by side in ``scripts.png`` at 200 dpi, to look at shaping and fonts.

    .venv/bin/python scripts/render_card_examples.py [--out docs/cards] [--scripts]
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
from pathlib import Path

import pypdfium2 as pdfium
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cardservice.application import Application  # noqa: E402
from cardservice.config import settings_from_mapping  # noqa: E402
from cardservice.demo_seed import gyronny_emblem, silhouette  # noqa: E402
from cardservice.errors import LatinLineNeededError  # noqa: E402


def lion_emblem(side: int = 256) -> bytes:
    """A red shield under a blue chief with a white charge (drawn, demo artwork)."""
    im = Image.new("RGBA", (side, side), (0, 0, 0, 0))
    d = ImageDraw.Draw(im)
    red, white = (200, 16, 46, 255), (255, 255, 255, 255)
    d.rectangle((side * 0.1, side * 0.05, side * 0.9, side * 0.55), fill=red)
    d.ellipse((side * 0.1, side * 0.15, side * 0.9, side * 0.95), fill=red)
    d.ellipse((side * 0.33, side * 0.22, side * 0.67, side * 0.56), fill=white)  # head
    d.polygon([(side * 0.38, side * 0.5), (side * 0.62, side * 0.5), (side * 0.5, side * 0.8)],
              fill=white)  # mane
    d.rectangle((side * 0.1, side * 0.05, side * 0.9, side * 0.2), fill=(0, 48, 135, 255))
    out = io.BytesIO()
    im.save(out, "PNG")
    return out.getvalue()


CITIES = [
    {"slug": "lisboa", "city": {"id": "PTLIS", "name": "Lisboa",
                                "base_url": "https://cartao.lisboa.example",
                                "languages": ["pt", "en"]},
     "branding": {"colour": "#1d1d1b",
                  "return_to": "Loja do Cidadão, Rua do Arsenal 15, Lisboa"},
     "emblem": gyronny_emblem,
     "resident": {"given_names": "Ana Maria", "family_names": "Silva",
                  "date_of_birth": "1990-04-12", "gender": "F", "languages": ["pt", "en"]},
     "photo": (46, 110, 160)},
    {"slug": "lyon", "city": {"id": "FRLYS", "name": "Lyon",
                              "base_url": "https://carte.lyon.example",
                              "languages": ["fr", "en"]},
     "branding": {"colour": "#c8102e",
                  "return_to": "Hôtel de Ville, 1 place de la Comédie, Lyon"},
     "emblem": lion_emblem,
     "resident": {"given_names": "Amadou", "family_names": "Diallo",
                  "date_of_birth": "1978-01-23", "gender": "M", "languages": ["fr", "ff"]},
     "photo": (60, 120, 70)},
    {"slug": "gao", "city": {"id": "MLGAQ", "name": "Gao",
                             "base_url": "https://carte.gao.example",
                             "languages": ["ar", "fr"]},
     "branding": {"colour": "#0b6e4f",
                  "return_to": "Mairie de Gao, Gao"},
     "emblem": gyronny_emblem,
     "resident": {"given_names": "فاطمة", "family_names": "الأنصاري",
                  "name_latin": "Fatima Al-Ansari",
                  "date_of_birth": "1986-09-02", "gender": "F", "languages": ["ar", "fr"]},
     "photo": (150, 90, 40)},
]


def city_of(spec: dict, tmp: Path) -> Application:
    """A throwaway city of ``spec`` in ``tmp``: SQLite, its own keys, its branding."""
    keys = tmp / "keys"
    keys.mkdir(mode=0o700)
    emblem = tmp / "emblem.png"
    emblem.write_bytes(spec["emblem"]())
    settings = settings_from_mapping(
        {"city": spec["city"], "database": {"url": f"sqlite:///{tmp / 'city.db'}"},
         "keys": {"dir": str(keys)}, "server": {"instance_dir": str(tmp)},
         "branding": {**spec["branding"], "emblem": str(emblem)}},
        base_dir=tmp,
        environ={"CARDSERVICE_SECRET_KEY": "x" * 40,
                 "CARDSERVICE_KEY_PASSPHRASE": "examples-only-passphrase"},
    )
    return Application(settings)


def render_city(spec: dict, out: Path, tmp: Path) -> list[Path]:
    """Make the city, issue one card, write its two sides as PNG; return the paths."""
    app = city_of(spec, tmp)
    try:
        app.upgrade_schema()
        app.city.init()
        fields = {**spec["resident"], "address": {"line1": "DEMO — not a real person"},
                  "documents": ["tenancy_agreement", "ngo_attestation", "school_record"]}
        rid = app.residents.register(fields, photo=silhouette(spec["photo"]),
                                     confirm_new=True, actor="examples")
        serial = app.cards.issue(rid, actor="examples").serial
        pdf = app.cards.pdf(serial)
    finally:
        app.close()
    doc = pdfium.PdfDocument(pdf)
    paths = []
    try:
        for index, side in enumerate(("front", "back")):
            path = out / f"{spec['slug']}-{side}.png"
            doc[index].render(scale=300 / 72).to_pil().save(path, optimize=True)
            paths.append(path)
    finally:
        doc.close()
    return paths


# (given names, family names) in each script the card prints; the Latin line is proposed.
SCRIPT_NAMES = [
    ("Thị Minh Khai", "Nguyễn"), ("Юлия", "Щукина"), ("Γεώργιος", "Παπαδόπουλος"),
    ("محمد", "عبد الله"), ("שָׂרָה", "לֵוִי"), ("राम कृष्ण", "शर्मा"), ("তাসলিমা", "নাসরিন"),
    ("சுப்பிரமணியன்", "பாரதி"), ("አበበ", "ቢቂላ"), ("ნინო", "ბერიძე"), ("Արամ", "Խաչատրյան"),
    ("สมชาย", "ใจดี"), ("小明", "王"), ("はなこ", "山田"), ("민준", "김"), ("ⵜⴰⵎⴰⵣⵉⵖⵜ", "ⵎⴰⵍⵉ"),
]


def render_scripts(out: Path, tmp: Path) -> Path:
    """Issue a card to a name in each script of SCRIPT_NAMES; write their fronts in a grid."""
    spec = CITIES[0]
    app = city_of(spec, tmp)
    fronts = []
    try:
        app.upgrade_schema()
        app.city.init()
        for given, family in SCRIPT_NAMES:
            fields = {"given_names": given, "family_names": family,
                      "date_of_birth": "1990-04-12", "languages": ["pt", "en"],
                      "address": {"line1": "DEMO — not a real person"},
                      "documents": ["tenancy_agreement", "ngo_attestation", "school_record"]}
            try:
                rid = app.residents.register(fields, photo=silhouette((90, 110, 140)),
                                             confirm_new=True, actor="examples")
            except LatinLineNeededError as exc:  # the clerk accepts the proposed Latin line
                rid = app.residents.register({**fields, "name_latin": exc.proposal},
                                             photo=silhouette((90, 110, 140)),
                                             confirm_new=True, actor="examples")
            doc = pdfium.PdfDocument(app.cards.pdf(app.cards.issue(rid, actor="examples")
                                                   .serial))
            try:
                fronts.append(doc[0].render(scale=200 / 72).to_pil())
            finally:
                doc.close()
    finally:
        app.close()
    cols = 4
    w, h = fronts[0].size
    gap = 16
    rows = -(-len(fronts) // cols)
    sheet = Image.new("RGB", (cols * w + (cols + 1) * gap, rows * h + (rows + 1) * gap),
                      (255, 255, 255))
    for i, front in enumerate(fronts):
        sheet.paste(front, (gap + (i % cols) * (w + gap), gap + (i // cols) * (h + gap)))
    path = out / "scripts.png"
    sheet.save(path, optimize=True)
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "cards")
    parser.add_argument("--scripts", action="store_true",
                        help="also render names in many scripts into scripts.png")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    os.umask(0o077)
    for spec in CITIES:
        with tempfile.TemporaryDirectory() as tmp:
            for path in render_city(spec, args.out, Path(tmp)):
                print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    if args.scripts:
        with tempfile.TemporaryDirectory() as tmp:
            path = render_scripts(args.out, Path(tmp))
            print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
