"""Hostile uploads for the decoders' budgets and the sandbox, built in memory.

Shared by the unit, web and end-to-end tests and by ``bench/bench_hostile_uploads.py``.
Each comes with what it cost *in-process* on a 2-core test machine, before any limit.
"""

from __future__ import annotations

import io
import zlib

from PIL import Image


def huge_page_pdf(side: float = 14400, fills: int = 2000) -> bytes:
    """One ``side`` x ``side`` pt page filled ``fills`` times (issue 11: ~11 s, at 60 MP)."""
    from reportlab.pdfgen.canvas import Canvas

    buf = io.BytesIO()
    c = Canvas(buf, pagesize=(side, side), pageCompression=1)
    for _ in range(fills):
        c.rect(0, 0, side, side, stroke=0, fill=1)
    c.showPage()
    c.save()
    return buf.getvalue()


def white_png(side: int = 7740) -> bytes:
    """A white ``side`` x ``side`` PNG: 189 kB that decode to 180 MB (issue 11: +340 MB)."""
    buf = io.BytesIO()
    Image.new("RGB", (side, side), "white").save(buf, format="PNG")
    return buf.getvalue()


def hex_wrapped_pdf(fills: int = 3_000_000, side: int = 595) -> bytes:
    """A PDF whose page content is Flate inside ASCIIHex: the parser's byte budget undoes
    Flate and ASCII85 only, so it lets this through, and PDFium builds every fill while
    loading the page, before the object count can refuse it.

    3,000,000 fills: a 248 kB file that cost 6.7 s of CPU and +1,035 MB in-process.
    """
    content = b"0 0 %d %d re f\n" % (side, side) * fills
    stream = zlib.compress(content, 9).hex().encode() + b">"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %d %d] /Contents 4 0 R >>" % (side, side),
        b"<< /Length %d /Filter [/ASCIIHexDecode /FlateDecode] >>\nstream\n" % len(stream)
        + stream + b"\nendstream",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, xref)
    return bytes(out)
