"""QR version of real cards over a varied set of names, at error correction Q.

For each name a card is encoded exactly as issued (11-character serial, with and
without a gender marker) and its QR made with ``segno.make_qr(qr, error="q",
boost_error=False)``. The script prints:

- the version distribution over the varied names, the share at version 11 or lower
  and every card above it;
- per script, the longest name (a prefix of a long sample of that script) that still
  fits version 11, with and without a gender marker, and which scripts do not reach
  40 characters with one.

The baseline, measured in the same run, is the same cards with every name as plain
UTF-8 text (no compact name form), so the ratio shows what the compact forms buy. For
the Vietnamese samples it also prints the limit without VISCII (id 13), i.e. with
windows-1258 writing most tones as a separate combining byte, as cards were before.

    .venv/bin/python bench/bench_qr_density.py
"""

from __future__ import annotations

import collections
import datetime as dt
import sys
from contextlib import contextmanager

import segno

from cardservice import credential, namecodec, pki

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
        "Tạ Mỹ Lệ Phạm Ngọc Thảo Trịnh Hữu Lộc Vũ",  # a tone on every syllable
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


# Long names (over 40 characters) per script, to find the longest that fits.
SAMPLES: dict[str, str] = {
    "ascii": "Oluwaseun Adebayo Okonkwo-Chukwuemeka Balogun Adeyemi",
    "latin (accents)": "Zoë Ångström-Øverås Ñúñez Fernández Çelik Gonçalves",
    "latin (polish)": "Łukasz Żółkiewski-Wiśniewski Brzęczyszczykiewicz Grzegorzewski",
    "latin (romanian)": "Ana-Ștefănița Țăranu-Bălănescu Mănăstirenescu Șerbănescu",
    "cyrillic": "Александра Владимировна Константинопольская-Щербакова",
    "greek": "Αικατερίνη Παπαδοπούλου-Χατζηγεωργίου Ελευθεριάδου Νικολάου",
    "arabic": "عبد الرحمن بن محمد بن عبد الله الهاشمي القرشي المكي الحجازي",
    "hebrew": "אברהם יצחק בן יעקב הכהן רוזנברג-שטיינברגר מירושלים העתיקה",
    "thai": "สมศักดิ์ ศรีสุวรรณวงศ์ ณ อยุธยา ประเสริฐสุขสวัสดิ์ มหาสารคาม",
    # VISCII writes each letter in one byte, whatever its tone. In windows-1258 the tones
    # it has no precomposed letter for took a combining byte each: ễ ị ả ầ ọ here (5 in
    # the first 40 characters), ữ ị ọ ễ ỳ ớ ộ ặ in the second (8).
    "vietnamese": "Nguyễn Thị Phương Thảo Trần Hoàng Ngọc Ánh Lê Văn Tám",
    "vietnamese (many tones)": "Tôn Nữ Thị Ngọc Diễm Huỳnh Phước Lộc Đặng Thùy Dương",
    "persian": "محمدرضا حسینی\u200cنژاد فراهانی اصفهانی کرمانی شیرازی تهرانی",
    "chinese": "王小明李大龍張偉劉洋陳靜楊帆黃磊趙敏周傑吳昊徐麗孫濤馬超朱琳胡斌郭鵬何雪",
    "amharic": "ገብረመድህን ወልደማርያም ተስፋዬ ኃይለሥላሴ አበበ ከበደ ገብረሥላሴ",
    "devanagari": "सुरेश कुमार प्रजापति वर्मा राहुल शर्मा सिंह चौहान",
    "georgian": "ნინო ჯავახიშვილი-გამსახურდია ბერიძე წერეთელი ჭავჭავაძე",
    "armenian": "Արամ Պետրոսյան Հովհաննիսյան Մկրտչյան Գրիգորյան Սարգսյան",
}


def _city():
    root_key, root = pki.generate_root(city_id="PTLIS", city_name="Lisboa", now=NOW)
    return pki.issue_signing_certificate(
        root_key=root_key, root_cert=root, now=NOW, not_after=NOW + dt.timedelta(days=6 * 366)
    )


@contextmanager
def _encodings_before_viscii():
    """The encoder as it was before VISCII (ids 1-12 only): for the Vietnamese figures."""
    original = namecodec.encode_name
    namecodec.encode_name = lambda name: original(name, range(1, 13))
    try:
        yield
    finally:
        namecodec.encode_name = original


@contextmanager
def _plain_utf8_names():
    """The baseline: every name as UTF-8 text (patches the encoder for this bench only)."""
    original = namecodec.encode_name
    namecodec.encode_name = lambda name: name
    try:
        yield
    finally:
        namecodec.encode_name = original


def _version(key, cert, name: str, gender: str | None) -> tuple[int, int]:
    claims = credential.CardClaims(
        issuer="PTLIS",
        serial=SERIAL,
        issued_at=NOW,
        expires_at=NOW + dt.timedelta(days=5 * 365),
        holder=credential.Holder(name=name, date_of_birth=dt.date(1984, 7, 9), gender=gender),
    )
    qr = credential.encode_card(claims, signer_key=key, signer_cert=cert)
    return int(segno.make_qr(qr, error="q", boost_error=False).version), len(qr)


def _longest_fitting(key, cert, sample: str, gender: str | None) -> tuple[int, str]:
    """The longest prefix of ``sample`` (in characters, edge spaces dropped) that fits."""
    best = (0, "")
    for length in range(1, len(sample) + 1):
        text = sample[:length].strip()
        if text and len(text) > best[0] and _version(key, cert, text, gender)[0] <= TARGET:
            best = (len(text), text)
    return best


def _distribution(key, cert) -> tuple[collections.Counter, int, int, list[str]]:
    counts: collections.Counter = collections.Counter()
    fits = total = 0
    misses = []
    for script, names in NAMES.items():
        for name in names:
            for gender in ("F", None):
                version, _ = _version(key, cert, name, gender)
                counts[version] += 1
                total += 1
                fits += version <= TARGET
                if version > TARGET:
                    marker = "with" if gender else "without"
                    misses.append(f"v{version} {script}, {len(name)} chars, {marker} gender")
    return counts, fits, total, misses


def main() -> int:
    key, cert = _city()
    with _plain_utf8_names():
        base_counts, base_fits, total, _ = _distribution(key, cert)
    counts, fits, _, misses = _distribution(key, cert)

    print(f"{total} cards ({total // 2} names x with/without gender), serial {len(SERIAL)} chars")
    print("QR version distribution at level Q (compact names | plain UTF-8 baseline):")
    for version in sorted(set(counts) | set(base_counts)):
        print(f"  v{version:<3} {counts[version]:4d} | {base_counts[version]:4d}")
    print(
        f"fit v{TARGET} or lower: {fits}/{total} ({fits / total:.0%}) | "
        f"baseline {base_fits}/{total} ({base_fits / total:.0%}); "
        f"ratio {fits / max(base_fits, 1):.2f}"
    )
    for miss in misses:
        print(f"  over v{TARGET}: {miss}")

    # Longest name per script that fits, from a sample of that script longer than the
    # limit; a prefix of a name never takes more bytes than the whole, so the longest
    # fitting prefix is the script's limit for names like the sample.
    print(f"\nlongest name fitting v{TARGET}-Q, characters (with gender / without):")
    short: list[str] = []
    for script, sample in SAMPLES.items():
        with_g, text = _longest_fitting(key, cert, sample, "F")
        without, _ = _longest_fitting(key, cert, sample, None)
        form = namecodec.encode_name(text)
        how = "UTF-8 text" if isinstance(form, str) else credential.NAME_ENCODINGS[form[0]][1]
        before = ""
        if script.startswith("vietnamese"):
            with _encodings_before_viscii():
                old_g, _ = _longest_fitting(key, cert, sample, "F")
                old_without, _ = _longest_fitting(key, cert, sample, None)
            before = f"   (windows-1258 alone: {old_g} / {old_without})"
        print(f"  {script:24s} {with_g:3d} / {without:3d}   {how}{before}")
        if with_g < 40:
            short.append(f"{script} ({with_g})")
    print(
        "40 characters with a gender marker: "
        + ("every script above" if not short else "not reached by " + ", ".join(short))
    )
    with_g, without = _name_budget(key, cert, "F"), _name_budget(key, cert, None)
    print(
        f"why: version {TARGET}-Q leaves {with_g} bytes for a name in the byte-string form "
        f"with a gender marker, {without} without (after its id byte and length head).\n"
        "  vietnamese: one byte a letter in VISCII, whatever its tones, as in the other\n"
        f"  one-byte tables: {with_g} letters with a gender marker (windows-1258 took one\n"
        "  more byte for each tone it writes as a combining mark).\n"
        "  two bytes a character or more (UTF-16 for CJK, Ethiopic, Indic, Georgian; UTF-8\n"
        f"  for Persian, Armenian): about {with_g // 2} characters; 40 take version 13."
    )
    return 0


def _name_budget(key, cert, gender: str | None) -> int:
    """Bytes left for an encoded name (after its id byte and 2-byte length head)."""
    name = "Ana Maria Conceição da Silva"  # byte-string form, over 23 bytes
    qr = credential.encode_card(
        credential.CardClaims(
            issuer="PTLIS",
            serial=SERIAL,
            issued_at=NOW,
            expires_at=NOW + dt.timedelta(days=5 * 365),
            holder=credential.Holder(name=name, date_of_birth=dt.date(1984, 7, 9), gender=gender),
        ),
        signer_key=key,
        signer_cert=cert,
    )
    cose = credential._b45decode(qr[len(credential.PREFIX) :])
    encoded = namecodec.encode_name(name)
    assert isinstance(encoded, bytes) and cose[0] == 0xD2
    # 259 alphanumeric characters at 11-Q: "LC1:" and 255 of Base45, i.e. 170 bytes.
    others = len(cose) - (2 + len(encoded))
    return 170 - others - 3


if __name__ == "__main__":
    sys.exit(main())
