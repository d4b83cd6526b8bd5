"""Product photos, kept as files on local disk (``EUM_MEDIA_DIR``, default var/media).

A photo is accepted only when its first bytes say PNG, JPEG or WebP and it is at most
``MAX_BYTES``; it is stored under a random name with the type's extension, written to a
temporary file and renamed, so a reader never sees half a photo. Names are checked
before a path is built from them.
"""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path

from eum import errors

MAX_BYTES = 1_000_000
TYPES = {"png": "image/png", "jpg": "image/jpeg", "webp": "image/webp"}
NAME = re.compile(r"^[0-9a-f]{24}\.(png|jpg|webp)$")
CACHE = {"Cache-Control": "public, max-age=86400"}


def media_dir() -> Path:
    return Path(os.environ.get("EUM_MEDIA_DIR") or "var/media")


def kind_of(data: bytes) -> str:
    """png | jpg | webp from the file's own signature; anything else is refused."""
    if not data:
        raise errors.InvalidRequest("no photo in the request body", field="image")
    if len(data) > MAX_BYTES:
        raise errors.InvalidRequest(f"a photo is at most {MAX_BYTES:,} bytes", field="image")
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    raise errors.InvalidRequest("a photo is PNG, JPEG or WebP", field="image")


def save(data: bytes, kind: str) -> str:
    folder = media_dir()
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{secrets.token_hex(12)}.{kind}"
    part = folder / f".{name}.part"
    with open(part, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(part, folder / name)
    return name


def path_of(name: str | None) -> Path:
    if name is None or not NAME.match(name):
        raise errors.NotFound("no photo")
    path = media_dir() / name
    if not path.is_file():
        raise errors.NotFound("no photo")
    return path


def media_type(name: str | None) -> str:
    return TYPES[str(name).rsplit(".", 1)[-1]]
