"""Image inputs: `data:` URI parsing, magic-number sniffing and size checks (the gateway never fetches a URL)."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator

#: The image types every provider with vision accepts inline.
MEDIA_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")
_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


class ImageError(ValueError):
    """An image input the gateway refuses; the message says why."""


def sniff(data: bytes) -> str | None:
    """The image type the bytes are, from their magic number."""
    for magic, media_type in _MAGIC:
        if data.startswith(magic):
            return media_type
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def decode_data_uri(url: str) -> tuple[str, bytes]:
    """The media type and bytes of a base64 `data:` image URI whose bytes are the type it claims."""
    header, comma, payload = url.partition(",")
    if not comma or not header.startswith("data:"):
        raise ImageError("must be a data URI of the form data:<media type>;base64,<data>")
    params = header[5:].split(";")
    media_type = params[0].strip().lower()
    if "base64" not in (p.strip().lower() for p in params[1:]):
        raise ImageError("must be base64-encoded (data:<media type>;base64,<data>)")
    if media_type not in MEDIA_TYPES:
        raise ImageError(f"has media type {media_type or 'none'!r}; images must be one of {', '.join(MEDIA_TYPES)}")
    try:
        data = base64.b64decode(payload.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ImageError("is not valid base64") from exc
    actual = sniff(data)
    if actual != media_type:
        found = f"{actual} data" if actual else "data that is not an image"
        raise ImageError(f"claims {media_type} but holds {found}")
    return media_type, data


def decoded_size(url: str) -> int:
    """The byte size of a data URI's payload, without decoding it (URLs count as 0: the provider fetches them)."""
    if not url.startswith("data:"):
        return 0
    payload = url.partition(",")[2].strip()
    return len(payload) * 3 // 4 - payload[-2:].count("=")


def check_image_url(url: str) -> None:
    """An image reference the gateway accepts: an https URL (passed on, never fetched) or a checked data URI."""
    if url.startswith("data:"):
        decode_data_uri(url)
        return
    if not url.lower().startswith("https://") or len(url) <= len("https://"):
        raise ImageError("must be an https URL or a data: URI")


def oversized(urls: Iterator[tuple[str, str]], limit: int) -> str | None:
    """The place of the first inline image over `limit` bytes, from (place, url) pairs."""
    for place, url in urls:
        if decoded_size(url) > limit:
            return place
    return None
