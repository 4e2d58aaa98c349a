"""Card photos: turn an upload or a webcam capture into a small, clean JPEG.

Rules this module keeps:

- Only real JPEG, PNG and WebP images are accepted. The bytes are checked by Pillow
  (``verify`` and then a full decode), not by a file name or a declared content type.
- Size limits come before decoding: the file size, then the pixel count read from the
  header, so a small file that claims huge dimensions (a decompression bomb) is refused
  without allocating memory for it. It is then decoded no larger than the output needs
  (JPEG at a reduced scale, PNG and WebP reduced right after decoding).
- The EXIF orientation is applied, then **all** metadata is dropped: the output is
  re-encoded from pixels only, so no EXIF (GPS position, camera serial, time), XMP,
  ICC profile or comment of the upload survives.
- The result has the card's photo ratio (:data:`PHOTO_RATIO`, 3:4 portrait), at most
  :data:`MAX_OUTPUT_SIZE` pixels.

Pure: bytes in, bytes out; encryption at rest is the caller's job.
"""

from __future__ import annotations

import io
import warnings

from PIL import Image, ImageOps

__all__ = [
    "ALLOWED_FORMATS",
    "MAX_OUTPUT_SIZE",
    "MAX_PIXELS",
    "MIN_PHOTO_SIZE",
    "PHOTO_RATIO",
    "InvalidCropError",
    "NotAnImageError",
    "PhotoError",
    "PhotoTooLargeError",
    "PhotoTooSmallError",
    "process_photo",
]

#: Width : height of the photo box on the card (portrait).
PHOTO_RATIO = (3, 4)

#: Largest output, in pixels (width, height); ~700 dpi on the 21 mm wide card photo.
MAX_OUTPUT_SIZE = (600, 800)

#: Smallest accepted photo after cropping, in pixels (width, height): ~180 dpi on the card.
MIN_PHOTO_SIZE = (150, 200)

#: Largest image accepted, in pixels, read from its header before decoding (a phone's
#: 12-megapixel photo or a 24-megapixel camera's passes). A PNG is decoded at full size
#: (4 bytes a pixel with alpha), so this bounds a worker's memory for one upload.
MAX_PIXELS = 24_000_000

#: Pixels the shorter side of the kept part needs (twice the output): anything beyond is
#: dropped while decoding (JPEG) or right after (PNG, WebP).
_DECODE_SIDE = 2 * max(MAX_OUTPUT_SIZE)

#: Pillow format names accepted.
ALLOWED_FORMATS = ("JPEG", "PNG", "WEBP")

#: JPEG quality of the output.
JPEG_QUALITY = 85


class PhotoError(Exception):
    """Base class for the reasons a photo is refused; the message can be shown to the clerk."""


class PhotoTooLargeError(PhotoError):
    """The file is larger than allowed, or the image has too many pixels."""


class NotAnImageError(PhotoError):
    """The data is not a JPEG, PNG or WebP image, or is damaged."""


class PhotoTooSmallError(PhotoError):
    """The image (or the cropped part) has too few pixels to print well."""


class InvalidCropError(PhotoError, ValueError):
    """The crop box is not inside the image or is empty."""


def process_photo(
    data: bytes,
    *,
    max_bytes: int = 5_000_000,
    crop: tuple[float, float, float, float] | None = None,
) -> bytes:
    """Check, orient, crop, shrink and re-encode a photo; return a metadata-free JPEG.

    ``crop`` is ``(left, top, right, bottom)`` as fractions (0..1) of the image *as
    displayed*, i.e. after its EXIF orientation is applied (browsers show images that way).
    After that crop, or on the whole image when ``crop`` is ``None``, the largest centred
    box of ratio :data:`PHOTO_RATIO` is kept. Raises a :class:`PhotoError` subclass when the
    photo is refused.
    """
    if len(data) > max_bytes:
        raise PhotoTooLargeError(
            f"the photo file is {len(data):,} bytes; the largest accepted is {max_bytes:,}"
        )
    if not data:
        raise NotAnImageError("the photo file is empty")
    if crop is not None:
        _check_crop(crop)

    _verify(data)
    img = _open(data)
    # Decode no larger than needed: the kept part (the crop box, else the whole picture)
    # stays at least twice the output size, so quality is not lost, and memory follows
    # the output, not the upload. JPEG is decoded at 1/2, 1/4 or 1/8 scale; others reduced.
    left, top, right, bottom = crop if crop is not None else (0.0, 0.0, 1.0, 1.0)
    kept_side = min(img.width, img.height) * min(right - left, bottom - top)
    factor = max(1, int(kept_side // _DECODE_SIDE))
    try:
        if factor > 1:
            img.draft("RGB", (-(-img.width // factor), -(-img.height // factor)))
        img.load()
    except (OSError, SyntaxError, ValueError) as exc:
        raise NotAnImageError("the photo file is damaged and cannot be decoded") from exc
    if factor > 1 and img.format != "JPEG" and img.format != "MPO":
        reduced = img.reduce(factor)
        reduced.info = img.info  # keeps the EXIF orientation for exif_transpose
        img = reduced

    try:
        img = ImageOps.exif_transpose(img)
    except (OSError, SyntaxError, ValueError, TypeError, KeyError) as exc:
        # Refuse rather than guess: ignoring the orientation would print a sideways face.
        raise NotAnImageError("the photo's orientation data is damaged") from exc
    img = _to_rgb(img)
    if crop is not None:
        left, top, right, bottom = crop
        w, h = img.size
        img = img.crop((round(left * w), round(top * h), round(right * w), round(bottom * h)))
    img = _centre_crop_to_ratio(img)
    if img.width < MIN_PHOTO_SIZE[0] or img.height < MIN_PHOTO_SIZE[1]:
        raise PhotoTooSmallError(
            f"the photo is {img.width}x{img.height} pixels after cropping; at least "
            f"{MIN_PHOTO_SIZE[0]}x{MIN_PHOTO_SIZE[1]} is needed to print it"
        )
    if img.width > MAX_OUTPUT_SIZE[0] or img.height > MAX_OUTPUT_SIZE[1]:
        img = img.resize(MAX_OUTPUT_SIZE, Image.Resampling.LANCZOS)

    # A fresh image holds pixels only: nothing from the upload's info dict (EXIF, XMP, ICC,
    # comments) can be carried into the output by the encoder.
    clean = Image.new("RGB", img.size)
    clean.paste(img)
    out = io.BytesIO()
    clean.save(out, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    return out.getvalue()


def _check_crop(crop: tuple[float, float, float, float]) -> None:
    if len(crop) != 4:
        raise InvalidCropError("the crop box needs four numbers: left, top, right, bottom")
    left, top, right, bottom = (float(v) for v in crop)
    if not all(0.0 <= v <= 1.0 for v in (left, top, right, bottom)):
        raise InvalidCropError("the crop box must lie inside the photo (fractions from 0 to 1)")
    if not (left < right and top < bottom):
        raise InvalidCropError("the crop box is empty")


def _open(data: bytes) -> Image.Image:
    """Open without decoding, refusing unknown formats and oversized dimensions."""
    try:
        # Pillow warns above Image.MAX_IMAGE_PIXELS and raises above twice that. Both
        # mean "refuse" here (and tests turn warnings into errors), so the warning is
        # raised and caught. Our own lower limit is checked right after, before decoding.
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS)
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
        raise PhotoTooLargeError("the photo has too many pixels") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise NotAnImageError("the file is not a JPEG, PNG or WebP image") from exc
    # Pillow reports a JPEG holding several pictures (MPO, written by many phone cameras)
    # as "MPO"; it is a JPEG file and its first picture is the photo.
    if img.format not in ALLOWED_FORMATS and img.format != "MPO":
        raise NotAnImageError("the file is not a JPEG, PNG or WebP image")
    w, h = img.size
    if w * h > MAX_PIXELS:
        raise PhotoTooLargeError(
            f"the photo is {w}x{h} pixels; the largest accepted is {MAX_PIXELS:,} pixels"
        )
    if w < MIN_PHOTO_SIZE[0] or h < MIN_PHOTO_SIZE[1]:
        raise PhotoTooSmallError(
            f"the photo is {w}x{h} pixels; at least {MIN_PHOTO_SIZE[0]}x{MIN_PHOTO_SIZE[1]} "
            "is needed to print it"
        )
    return img


def _verify(data: bytes) -> None:
    """Run Pillow's structural check (CRCs for PNG); it leaves the image unusable."""
    img = _open(data)
    try:
        img.verify()
    except (OSError, SyntaxError, ValueError) as exc:
        raise NotAnImageError("the photo file is damaged") from exc
    finally:
        img.close()


def _to_rgb(img: Image.Image) -> Image.Image:
    if img.mode == "RGB":
        return img
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        # Transparent areas become white, as on paper, rather than black.
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16-bit grey PNG: scale down to 8 bits before converting.
        return img.point(lambda v: v / 256).convert("L").convert("RGB")
    return img.convert("RGB")


def _centre_crop_to_ratio(img: Image.Image) -> Image.Image:
    rw, rh = PHOTO_RATIO
    w, h = img.size
    if w * rh > h * rw:  # too wide
        new_w = h * rw // rh
        left = (w - new_w) // 2
        return img.crop((left, 0, left + new_w, h))
    new_h = w * rh // rw
    top = (h - new_h) // 2
    return img.crop((0, top, w, top + new_h))
