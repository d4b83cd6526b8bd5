"""Signed QR payloads: a merchant id, an optional fixed amount and an expiry, with an
HMAC-SHA256 signature by the server key. Altered, expired or foreign payloads fail.

Format: ``EUM1.<base64url(JSON)>.<base64url(HMAC)>``; compact enough for a small QR code.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime

import segno

from eum import errors

PREFIX = "EUM1"
MAX_PAYLOAD_LENGTH = 512


@dataclass(frozen=True)
class QrClaim:
    merchant_id: str
    amount_krw: int | None
    expires_at: datetime


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(key: bytes, body: str) -> str:
    return _b64(hmac.new(key, f"{PREFIX}.{body}".encode(), hashlib.sha256).digest())


def issue(key: bytes, merchant_id: str, amount_krw: int | None, expires_at: datetime) -> str:
    claims = {"m": merchant_id, "x": int(expires_at.timestamp())}
    if amount_krw is not None:
        claims["a"] = amount_krw
    body = _b64(json.dumps(claims, separators=(",", ":"), sort_keys=True).encode())
    return f"{PREFIX}.{body}.{_sign(key, body)}"


def verify(key: bytes, payload: object, now: datetime) -> QrClaim:
    """The claim of a genuine, unexpired payload; ``qr_invalid`` / ``qr_expired`` otherwise."""
    if not isinstance(payload, str) or len(payload) > MAX_PAYLOAD_LENGTH:
        raise errors.QrInvalid(field="qr")
    parts = payload.split(".")
    if len(parts) != 3 or parts[0] != PREFIX:
        raise errors.QrInvalid(field="qr")
    _, body, signature = parts
    if not hmac.compare_digest(_sign(key, body), signature):
        raise errors.QrInvalid(field="qr")
    try:
        claims = json.loads(_unb64(body))
        merchant_id, expiry, amount = claims["m"], claims["x"], claims.get("a")
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise errors.QrInvalid(field="qr") from None
    if not isinstance(merchant_id, str) or not isinstance(expiry, int):
        raise errors.QrInvalid(field="qr")
    expires_at = datetime.fromtimestamp(expiry, UTC)
    if now >= expires_at:
        raise errors.QrExpired(field="qr")
    return QrClaim(merchant_id, amount if isinstance(amount, int) else None, expires_at)


def image(payload: str, kind: str = "svg", scale: int = 6) -> bytes:
    """The payload as a QR code image (SVG or PNG), drawn locally with segno."""
    import io

    code = segno.make(payload, error="m")
    out = io.BytesIO()
    code.save(out, kind=kind, scale=scale, border=2)
    return out.getvalue()
