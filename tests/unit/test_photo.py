"""Photo processing: real images only, oriented, cropped to the card ratio, no metadata."""

from __future__ import annotations

import io
import random
import struct
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import ExifTags, Image, ImageCms

from cardservice.photo import (
    MAX_OUTPUT_SIZE,
    MIN_PHOTO_SIZE,
    PHOTO_RATIO,
    InvalidCropError,
    NotAnImageError,
    PhotoError,
    PhotoTooLargeError,
    PhotoTooSmallError,
    process_photo,
)


def encode(image: Image.Image, fmt: str = "JPEG", **params) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format=fmt, **params)
    return buf.getvalue()


def jpeg_segments(data: bytes) -> list[tuple[int, bytes]]:
    """The JPEG's marker segments before the image data: (marker, payload)."""
    assert data[:2] == b"\xff\xd8"
    segments = []
    i = 2
    while i < len(data):
        assert data[i] == 0xFF
        marker = data[i + 1]
        if marker == 0xDA:  # start of scan: metadata can only come before it
            break
        length = struct.unpack(">H", data[i + 2 : i + 4])[0]
        segments.append((marker, data[i + 4 : i + 2 + length]))
        i += 2 + length
    return segments


def assert_clean_jpeg(data: bytes) -> Image.Image:
    markers = {m for m, _ in jpeg_segments(data)}
    # Only JFIF (APP0), quantisation/huffman tables, frame header, restart interval.
    assert markers <= {0xE0, 0xDB, 0xC4, 0xC0, 0xC2, 0xDD}, sorted(hex(m) for m in markers)
    out = Image.open(io.BytesIO(data))
    assert out.format == "JPEG"
    assert not out.getexif()
    assert "icc_profile" not in out.info and "exif" not in out.info and "xmp" not in out.info
    assert "comment" not in out.info
    return out


def assert_card_ratio(image: Image.Image) -> None:
    w, h = image.size
    assert abs(w / h - PHOTO_RATIO[0] / PHOTO_RATIO[1]) < 0.01, image.size


def two_tone(size=(800, 600), left=(220, 30, 30), right=(30, 30, 220)) -> Image.Image:
    image = Image.new("RGB", size, right)
    image.paste(Image.new("RGB", (size[0] // 2, size[1]), left), (0, 0))
    return image


def gps_exif(orientation: int | None = None) -> Image.Exif:
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "PhoneMaker"
    exif[ExifTags.Base.Model] = "Phone 12"
    if orientation is not None:
        exif[ExifTags.Base.Orientation] = orientation
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (38.0, 42.0, 27.5)
    gps[ExifTags.GPS.GPSLongitudeRef] = "W"
    gps[ExifTags.GPS.GPSLongitude] = (9.0, 8.0, 12.25)
    return exif


def test_gps_exif_and_other_metadata_are_stripped():
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    data = encode(
        two_tone(),
        exif=gps_exif(),
        icc_profile=srgb,
        comment=b"taken at home",
        xmp=b"<x:xmpmeta>secret</x:xmpmeta>",
    )
    src = Image.open(io.BytesIO(data))
    assert src.getexif().get_ifd(ExifTags.IFD.GPSInfo)  # the input really carries GPS
    assert "icc_profile" in src.info and "comment" in src.info
    out = assert_clean_jpeg(process_photo(data))
    assert_card_ratio(out)
    assert b"PhoneMaker" not in process_photo(data)


def test_exif_orientation_is_applied_before_stripping():
    # Stored landscape, red on the left; orientation 6 means "rotate 90° clockwise to view",
    # so the viewer sees a portrait picture with red on top.
    data = encode(two_tone((800, 600)), exif=gps_exif(orientation=6))
    out = assert_clean_jpeg(process_photo(data))
    assert out.size == (600, 800)  # 600 x 800 once turned upright: already 3:4
    top = out.getpixel((out.width // 2, 10))
    bottom = out.getpixel((out.width // 2, out.height - 10))
    assert top[0] > 150 and top[2] < 100, top
    assert bottom[2] > 150 and bottom[0] < 100, bottom


def test_png_becomes_jpeg_with_white_background():
    image = Image.new("RGBA", (600, 800), (0, 0, 0, 0))
    image.paste(Image.new("RGBA", (300, 800), (0, 128, 0, 255)), (0, 0))
    out = assert_clean_jpeg(process_photo(encode(image, "PNG")))
    assert out.size == (600, 800)
    assert out.getpixel((500, 400)) >= (245, 245, 245)  # was transparent
    g = out.getpixel((100, 400))
    assert g[1] > 100 and g[0] < 40


def test_webp_is_accepted():
    out = assert_clean_jpeg(process_photo(encode(two_tone((900, 1200)), "WEBP")))
    assert out.size == MAX_OUTPUT_SIZE


def test_multi_picture_jpeg_from_a_phone_is_accepted():
    # MPO: a JPEG with a second picture appended (depth map, preview), as phones write.
    buf = io.BytesIO()
    first = Image.new("RGB", (600, 800), (220, 30, 30))
    first.save(buf, format="MPO", save_all=True, append_images=[two_tone((600, 800))])
    assert Image.open(io.BytesIO(buf.getvalue())).format == "MPO"
    out = assert_clean_jpeg(process_photo(buf.getvalue()))
    px = out.getpixel((500, 400))  # the first picture (all red), not the second
    assert px[0] > 150 and px[2] < 100


def test_wrong_ratio_is_centre_cropped():
    # 1600 x 600, wide: keep the centre 450 x 600, which is all blue (right half starts at 800).
    image = two_tone((1600, 600))
    image.paste(Image.new("RGB", (100, 600), (30, 30, 220)), (700, 0))
    out = assert_clean_jpeg(process_photo(encode(image)))
    assert out.size == (450, 600)
    assert_card_ratio(out)
    tall = assert_clean_jpeg(process_photo(encode(two_tone((300, 1000)))))
    assert tall.size == (300, 400)


def test_large_photo_is_scaled_down():
    out = assert_clean_jpeg(process_photo(encode(two_tone((3000, 4000)))))
    assert out.size == MAX_OUTPUT_SIZE


def test_crop_box_in_fractions():
    # Keep the left half (red) of a 1200 x 800 image: 600 x 800 is already 3:4.
    out = assert_clean_jpeg(process_photo(encode(two_tone((1200, 800))), crop=(0, 0, 0.5, 1)))
    assert out.size == (600, 800)
    px = out.getpixel((300, 400))
    assert px[0] > 150 and px[2] < 100


@pytest.mark.parametrize(
    "crop",
    [(0.5, 0, 0.5, 1), (0.6, 0, 0.4, 1), (-0.1, 0, 0.5, 1), (0, 0, 1.2, 1), (0, 0, 1)],
)
def test_bad_crop_box(crop):
    with pytest.raises(InvalidCropError):
        process_photo(encode(two_tone()), crop=crop)


def _pdf_bytes() -> bytes:
    from reportlab.pdfgen.canvas import Canvas

    buf = io.BytesIO()
    c = Canvas(buf, invariant=1)
    c.drawString(100, 100, "not a photo")
    c.save()
    return buf.getvalue()


@pytest.mark.parametrize(
    "data",
    [
        random.Random(1).randbytes(5000),
        b"just some text, saved as photo.jpg\n" * 10,
        b"\xff\xd8\xff\xe0" + random.Random(2).randbytes(3000),  # JPEG magic, junk after
        b"<svg xmlns='http://www.w3.org/2000/svg' width='600' height='800'/>",
    ],
    ids=["random", "text", "fake-jpeg", "svg"],
)
def test_non_images_are_refused(data):
    with pytest.raises(NotAnImageError):
        process_photo(data)


def test_pdf_is_refused():
    with pytest.raises(NotAnImageError, match="not a JPEG, PNG or WebP"):
        process_photo(_pdf_bytes())


@pytest.mark.parametrize("fmt", ["GIF", "BMP", "TIFF"])
def test_other_image_formats_are_refused(fmt):
    with pytest.raises(NotAnImageError):
        process_photo(encode(two_tone(), fmt))


def test_truncated_jpeg_is_refused():
    data = encode(two_tone((1200, 1600)), quality=95)
    with pytest.raises(NotAnImageError, match="damaged"):
        process_photo(data[: len(data) // 2])


def test_png_with_bad_checksum_is_refused():
    data = bytearray(encode(two_tone(), "PNG"))
    idat = data.index(b"IDAT")
    data[idat + 10] ^= 0xFF  # flip bits inside the compressed data; the CRC no longer matches
    with pytest.raises(NotAnImageError):
        process_photo(bytes(data))


def test_empty_data_is_refused():
    with pytest.raises(NotAnImageError):
        process_photo(b"")


def test_oversize_file_is_refused():
    data = encode(two_tone((600, 800)))
    with pytest.raises(PhotoTooLargeError, match="largest accepted"):
        process_photo(data, max_bytes=len(data) - 1)
    assert process_photo(data, max_bytes=len(data))


@pytest.mark.parametrize("size", [(100, 100), (199, 199), (149, 400), (400, 150)])
def test_tiny_images_are_refused(size):
    with pytest.raises(PhotoTooSmallError, match="at least"):
        process_photo(encode(two_tone(size)))


def test_crop_too_small_is_refused():
    with pytest.raises(PhotoTooSmallError, match="after cropping"):
        process_photo(encode(two_tone((800, 600))), crop=(0, 0, 0.1, 0.1))


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width`` x ``height`` pixels (a decompression bomb)."""
    data = encode(Image.new("1", (8, 8)), "PNG")
    ihdr = bytearray(data[12:29])  # chunk type + 13 bytes of IHDR data
    ihdr[4:12] = struct.pack(">II", width, height)
    return data[:12] + bytes(ihdr) + struct.pack(">I", zlib.crc32(bytes(ihdr))) + data[33:]


@pytest.mark.parametrize(
    "size",
    [(8000, 8000), (12000, 12000), (30000, 30000)],
    ids=["over-our-limit", "pillow-warning", "pillow-error"],
)
def test_decompression_bombs_are_refused_before_decoding(size):
    with pytest.raises(PhotoTooLargeError, match="pixels"):
        process_photo(png_claiming(*size))


def test_errors_share_a_base_class():
    for exc in (NotAnImageError, PhotoTooLargeError, PhotoTooSmallError, InvalidCropError):
        assert issubclass(exc, PhotoError)


@settings(max_examples=30, deadline=None)
@given(
    st.floats(0, 0.9),
    st.floats(0, 0.9),
    st.floats(0.05, 1),
    st.floats(0.05, 1),
)
def test_any_valid_crop_gives_card_ratio_or_too_small(left, top, w, h):
    right, bottom = min(1.0, left + w), min(1.0, top + h)
    try:
        out = process_photo(encode(two_tone((1000, 1000))), crop=(left, top, right, bottom))
    except PhotoTooSmallError:
        return
    image = assert_clean_jpeg(out)
    assert_card_ratio(image)
    assert image.width >= MIN_PHOTO_SIZE[0] and image.height >= MIN_PHOTO_SIZE[1]
    assert image.width <= MAX_OUTPUT_SIZE[0] and image.height <= MAX_OUTPUT_SIZE[1]


def test_white_7740_png_is_refused_quickly_with_bounded_memory(tmp_path):
    # 189 kB that decoded to 60 MP: before the budget it was accepted at +460 MB.
    from tests.unit.budget import cost_of

    cost = cost_of("photo", encode(Image.new("RGB", (7740, 7740), "white"), "PNG"), tmp_path)
    assert cost.error is not None
    assert cost.error.startswith("cardservice.photo.PhotoTooLargeError")
    assert "7740x7740 pixels" in cost.error
    assert cost.cpu < 1.5, cost
    assert cost.mb < 100, cost


def test_large_png_is_reduced_right_after_decoding():
    out = assert_clean_jpeg(process_photo(encode(two_tone((4800, 4800)), "PNG"),
                                          max_bytes=50_000_000))
    assert out.size == MAX_OUTPUT_SIZE


def test_big_jpeg_with_a_small_crop_keeps_enough_pixels():
    # The crop decides the decoding scale: a quarter of a 6000 x 4000 photo still fills
    # the output.
    out = assert_clean_jpeg(process_photo(encode(two_tone((6000, 4000))), max_bytes=50_000_000,
                                          crop=(0, 0, 0.25, 0.5)))
    assert out.size == MAX_OUTPUT_SIZE
