"""QR version of real cards over a varied set of names, at error correction Q.

For each name a card is encoded exactly as issued (11-character serial, with and
without a gender marker) and its QR made with ``segno.make_qr(qr, error="q",
boost_error=False)``; the script prints the version distribution, the share at
version 11 or lower, and for each script the longest name that still fits version 11.
The baseline, measured in the same run, is the same cards with every name as plain
UTF-8 text (no compact name form), so the ratio shows what the compact forms buy.

    .venv/bin/python bench/bench_qr_density.py
"""

from __future__ import annotations

import collections
import datetime as dt
import sys
from contextlib import contextmanager

import segno

from cardservice import credential, pki

NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
SERIAL = "7K2M9XD4P3Q"  # the length cardservice.serials makes (10 + check character)
TARGET = 11

# Real-looking names, short to 40 characters, by script.
NAMES: dict[str, list[str]] = {
    "latin": [
        "Ana Silva",
        "João Pedro Gonçalves",
        "María José Fernández-Núñez",
        "Zoë Ångström-Øverås Ñúñez Fernández",
        "Maria Fernanda da Conceição Oliveira Sá",
        "Jean-Baptiste Lefèvre-Dupré de Montaigne",
        "Łukasz Żółkiewski-Wiśniewski",
        "Gülşen Çağlayan Öztürk Yılmazoğlu",
        "Ștefănița Țăranu-Bălănescu",
        "Jānis Bērziņš-Kalniņš Ozoliņš",
        "Oluwaseun Adebayo Okonkwo-Chukwuemeka",
        "Wolfgang Amadeus Müller-Lüdenscheidt",
    ],
    "cyrillic": [
        "Иван Петров",
        "Мария Ивановна Петрова",
        "Александра Владимировна Константинопольс",
        "Олександр Шевченко-Коваленко",
    ],
    "greek": ["Νίκος Παπαδόπουλος", "Αικατερίνη Παπαδοπούλου-Χατζηγεωργίου Ελ"],
    "arabic": [
        "محمد علي",
        "عبد الرحمن بن محمد",
        "عبد الرحمن بن محمد بن عبد الله الهاشمي ال",
        "فاطمة الزهراء بنت عبد العزيز",
    ],
    "persian": ["فاطمه محمدی", "محمدرضا حسینی\u200cنژاد", "سید احمد شاه مسعود کابلی"],
    "urdu": ["محمد عمران خان", "عائشہ بی بی چوہدری"],
    "hebrew": ["דוד כהן", "אברהם יצחק בן יעקב הכהן רוזנברג-שטיינברג"],
    "thai": ["สมชาย ใจดี", "สมศักดิ์ ศรีสุวรรณวงศ์ ณ อยุธยา ประเสริฐสุ"],
    "vietnamese": [
        "Lê Văn Tám",
        "Nguyễn Thị Phương Thảo",
        "Trần Hoàng Ngọc Ánh Tôn Nữ Minh Châu",
        "Nguyễn Thị Phương Thảo Trần Hoàng Ngọc Á",
    ],
    "chinese": ["王小明", "欧阳娜娜", "爱新觉罗·溥仪", "王小明李大龍張偉劉洋陳靜楊帆黃磊"],
    "japanese": ["山田 花子", "佐々木 健太郎", "マリア・フェルナンダ・オリベイラ"],
    "korean": ["김민준", "남궁 민수", "제갈 공명 서울특별시"],
    "amharic": ["አበበ ከበደ", "ገብረመድህን ወልደማርያም", "ገብረመድህን ወልደማርያም ተስፋዬ"],
    "tigrinya": ["ሚካኤል ተስፋማርያም ገብረሂወት"],
    "devanagari": ["राहुल शर्मा", "सुरेश कुमार प्रजापति वर्मा"],
    "bengali": ["রহিম উদ্দিন আহমেদ"],
    "tamil": ["முருகன் செல்வராஜ்"],
    "georgian": ["გიორგი ბერიძე", "ნინო ჯავახიშვილი-გამსახურდია"],
    "armenian": ["Արամ Պետրոսյան Հովհաննիսյան"],
    "mixed": ["Olga Ивановa-Smith", "Li Wei 李伟"],
}


def _city():
    root_key, root = pki.generate_root(city_id="PTLIS", city_name="Lisboa", now=NOW)
    return pki.issue_signing_certificate(
        root_key=root_key, root_cert=root, now=NOW, not_after=NOW + dt.timedelta(days=6 * 366)
    )


@contextmanager
def _plain_utf8_names():
    """The baseline: every name as UTF-8 text (patches the encoder for this bench only)."""
    original = credential._encode_name
    credential._encode_name = lambda name: name
    try:
        yield
    finally:
        credential._encode_name = original


def _version(key, cert, name: str, gender: str | None) -> tuple[int, int]:
    claims = credential.CardClaims(
        issuer="PTLIS",
        serial=SERIAL,
        issued_at=NOW,
        expires_at=NOW + dt.timedelta(days=5 * 365),
        holder=credential.Holder(name=name, date_of_birth=dt.date(1984, 7, 9), gender=gender),
    )
    qr = credential.encode_card(claims, signer_key=key, signer_cert=cert)
    return segno.make_qr(qr, error="q", boost_error=False).version, len(qr)


def _longest_fitting(key, cert, name: str, gender: str | None) -> int:
    """The longest prefix of ``name`` (in characters) whose card fits the target."""
    best = 0
    for length in range(1, len(name) + 1):
        text = name[:length].strip()
        if text and _version(key, cert, text, gender)[0] <= TARGET:
            best = length
    return best


def _distribution(key, cert) -> tuple[collections.Counter, int, int]:
    counts: collections.Counter = collections.Counter()
    fits = total = 0
    for names in NAMES.values():
        for name in names:
            for gender in ("F", None):
                version, _ = _version(key, cert, name, gender)
                counts[version] += 1
                total += 1
                fits += version <= TARGET
    return counts, fits, total


def main() -> int:
    key, cert = _city()
    with _plain_utf8_names():
        base_counts, base_fits, total = _distribution(key, cert)
    counts, fits, _ = _distribution(key, cert)

    print(f"{total} cards ({total // 2} names x with/without gender), serial {len(SERIAL)} chars")
    print("QR version distribution at level Q (compact names | plain UTF-8 baseline):")
    for version in sorted(set(counts) | set(base_counts)):
        print(f"  v{version:<3} {counts[version]:4d} | {base_counts[version]:4d}")
    print(
        f"fit v{TARGET} or lower: {fits}/{total} ({fits / total:.0%}) | "
        f"baseline {base_fits}/{total} ({base_fits / total:.0%}); "
        f"ratio {fits / max(base_fits, 1):.2f}"
    )

    # Longest name per script that fits, using a 40-character sample of that script.
    print(f"\nlongest name fitting v{TARGET}-Q, characters (with gender / without):")
    samples = {
        "latin (accents)": "Zoë Ångström-Øverås Ñúñez Fernández Çelikk",
        "cyrillic": "Александра Владимировна Константинопольск",
        "greek": "Αικατερίνη Παπαδοπούλου-Χατζηγεωργίου Ελέ",
        "arabic": "عبد الرحمن بن محمد بن عبد الله الهاشمي الق",
        "hebrew": "אברהם יצחק בן יעקב הכהן רוזנברג-שטיינברגר",
        "thai": "สมศักดิ์ ศรีสุวรรณวงศ์ ณ อยุธยา ประเสริฐสุข",
        "vietnamese": "Nguyễn Thị Phương Thảo Trần Hoàng Ngọc Ánh",
        "persian": "محمدرضا حسینی\u200cنژاد فراهانی اصفهانی کرمانی",
        "chinese": "王小明李大龍張偉劉洋陳靜楊帆黃磊趙敏周傑吳昊徐麗孫濤馬超朱琳胡斌郭鵬何雪",
        "amharic": "ገብረመድህን ወልደማርያም ተስፋዬ ኃይለሥላሴ አበበ ከበደ ገብረ",
        "devanagari": "सुरेश कुमार प्रजापति वर्मा राहुल शर्मा सिंह",
    }
    for script, sample in samples.items():
        sample = sample[:40]
        with_g = _longest_fitting(key, cert, sample, "F")
        without = _longest_fitting(key, cert, sample, None)
        print(f"  {script:16s} {with_g:3d} / {without:3d}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
