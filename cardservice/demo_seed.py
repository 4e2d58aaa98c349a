"""``make run``'s demo residents: DEMO ONLY, never for a real city.

A newcomer who opens the demo should see at once what the service is for: residents
with cards to open and print, a card to check, a revoked one, a request waiting in the
clerk's queue, and a clerk account to see them with. Every demo resident's address says
"DEMO — not a real person" and their photos are drawn silhouettes. Runs through the
application layer like any clerk, so the audit log shows each step as done by ``demo``.

    python -m cardservice.demo_seed     (with CARDSERVICE_CONFIG and the secrets set)
"""

from __future__ import annotations

import io
import sys
from dataclasses import dataclass
from datetime import date

from PIL import Image, ImageDraw

from cardservice import serials
from cardservice.application import Application, IssuedCard
from cardservice.config import load_settings
from cardservice.errors import FontMissingError

ACTOR = "demo"
DEMO_ADDRESS = "DEMO — not a real person"

# given names, family names, birth date, gender, languages, silhouette colour
PEOPLE = [
    ("Ana Maria", "Silva", date(1990, 4, 12), "F", ("pt", "en"), (46, 110, 160)),
    ("Thị Minh Khai", "Nguyễn", date(1985, 9, 2), "F", ("vi", "fr"), (150, 70, 90)),
    ("Amadou", "Diallo", date(1978, 1, 23), "M", ("fr", "ff"), (60, 120, 70)),
    ("Sam", "Okafor", date(2001, 11, 30), "X", ("en", "ig"), (120, 90, 40)),
    ("Layla", "حداد", date(1996, 6, 5), None, ("ar", "fr"), (90, 80, 140)),
]
# The Latin line of a name in another script, as the resident spells it.
LATIN = {"حداد": "Layla Haddad"}

# Names written family name first (the card, the screens and the QR follow that order).
FAMILY_FIRST = frozenset({("Thị Minh Khai", "Nguyễn")})


def silhouette(colour: tuple[int, int, int]) -> bytes:
    """A drawn head-and-shoulders picture, clearly not a photo of anyone."""
    im = Image.new("RGB", (350, 450), (236, 238, 242))
    d = ImageDraw.Draw(im)
    d.ellipse((105, 70, 245, 230), fill=colour)
    d.ellipse((40, 250, 310, 560), fill=colour)
    out = io.BytesIO()
    im.save(out, "PNG")
    return out.getvalue()


@dataclass(frozen=True)
class Seeded:
    """What the demo made: every card issued, which one is revoked and which is queued."""

    cards: list[IssuedCard]
    revoked: str
    queued: str
    clerk_password: str
    # Residents left out because this machine lacks the font their name needs.
    skipped: tuple[str, ...] = ()

    def lines(self) -> list[str]:
        """What to tell the person who started the demo."""
        return [
            f"== demo residents: {len(self.cards)} cards issued; "
            f"{serials.format_serial(self.revoked)} is revoked (stolen), "
            f"{serials.format_serial(self.queued)} has a replacement request in the queue",
            *(f"== left out: {why}" for why in self.skipped),
            "== demo clerk account: clerk; one-time password (change it at first sign-in):",
            self.clerk_password,
        ]


def gyronny_emblem(side: int = 256) -> bytes:
    """A drawn shield, gyronny of eight black and white like Lisbon's flag (demo artwork)."""
    im = Image.new("RGBA", (side, side), (0, 0, 0, 0))
    field = Image.new("RGBA", (side, side), (255, 255, 255, 255))
    d = ImageDraw.Draw(field)
    c = side / 2
    corners = [(0, 0), (c, 0), (side, 0), (side, c), (side, side), (c, side), (0, side), (0, c)]
    for i in range(0, 8, 2):
        d.polygon([(c, c), corners[i], corners[(i + 1) % 8]], fill=(20, 20, 20, 255))
    def shield(inset: float) -> Image.Image:
        mask = Image.new("L", (side, side), 0)
        m = ImageDraw.Draw(mask)
        a, b = side * (0.08 + inset), side * (0.92 - inset)
        m.rectangle((a, side * (0.04 + inset), b, side * 0.55), fill=255)
        m.ellipse((a, side * 0.15, b, side * (0.96 - inset)), fill=255)
        return mask

    im.paste((20, 20, 20, 255), (0, 0), shield(0.0))  # the rim
    im.paste(field, (0, 0), shield(0.035))
    out = io.BytesIO()
    im.save(out, "PNG")
    return out.getvalue()


def seed(app: Application) -> Seeded | None:
    """Register the demo residents, issue their cards, revoke one, file one request.

    Does nothing (returns None) when the register already holds residents, so a second
    ``make run`` adds no one.
    """
    if app.residents.count() > 0:
        return None
    issued = []
    skipped: list[str] = []
    for given, family, born, gender, languages, colour in PEOPLE:
        fields = {"given_names": given, "family_names": family,
                  "date_of_birth": born.isoformat(), "gender": gender,
                  "languages": list(languages),
                  "name_order": ("family_first" if (given, family) in FAMILY_FIRST
                                 else "given_first"),
                  "address": {"line1": DEMO_ADDRESS},
                  "documents": ["tenancy_agreement", "ngo_attestation", "school_record"]}
        if family in LATIN:
            fields["name_latin"] = LATIN[family]
        try:
            rid = app.residents.register(fields, photo=silhouette(colour), confirm_new=True,
                                         actor=ACTOR)
        except FontMissingError as exc:  # e.g. Arabic without fonts-noto-core: no card
            skipped.append(f"{given} {family} ({exc.script} needs the font package "
                           f"{exc.package})")
            continue
        issued.append(app.cards.issue(rid, actor=ACTOR))
    revoked, queued = issued[3].serial, issued[2].serial
    app.cards.revoke(revoked, reason="stolen", actor=ACTOR)
    app.renewals.file(queued, kind="damaged", changes=None, locale="fr")
    clerk = app.staff.create(username="clerk", role="clerk", actor=ACTOR)
    return Seeded(cards=issued, revoked=revoked, queued=queued, clerk_password=clerk.password,
                  skipped=tuple(skipped))


def main() -> int:
    """Seed the demo city named by CARDSERVICE_CONFIG."""
    app = Application(load_settings())
    try:
        seeded = seed(app)
        for line in seeded.lines() if seeded else []:
            print(line)
    finally:
        app.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
