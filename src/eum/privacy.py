"""Personal data: what staff see of a member, and card numbers kept only as tokens.

- A member sees its own name and phone number in full; anyone else who is shown them
  (an issuer admin, an operator, a promoter, a merchant) sees them masked: 홍길동 ->
  홍*동, 김수 -> 김*, 남궁민수 -> 남**수; 010-1234-5678 -> 010-****-5678.
- The platform stores no card number (a member's card is its brand and kind, SPEC 3.3).
  Should one ever come in (a physical card's number), it is kept as ``card_token``: an
  HMAC under the server key, which matches the same number again but cannot be turned
  back into it, and the last four digits to show; never the number itself.
"""

from __future__ import annotations

import hashlib
import hmac
import re

from eum.auth.model import Principal

MASK = "*"
PHONE_DIGITS = re.compile(r"\d")
CARD_NUMBER_DIGITS = (12, 19)  # ISO/IEC 7812 primary account numbers


def mask_name(name: str | None) -> str | None:
    """홍길동 -> 홍*동; two characters keep the first (김수 -> 김*); four or more keep
    the first and the last (남궁민수 -> 남**수); one character is masked whole."""
    if name is None:
        return None
    text = name.strip()
    if len(text) <= 1:
        return MASK * len(text)
    if len(text) == 2:
        return text[0] + MASK
    return text[0] + MASK * (len(text) - 2) + text[-1]


def mask_phone(phone: str | None) -> str | None:
    """010-1234-5678 -> 010-****-5678: the first three and the last four digits stay,
    every digit between is masked, separators are kept."""
    if phone is None:
        return None
    digits = [m.start() for m in PHONE_DIGITS.finditer(phone)]
    hidden = set(digits[3:-4])
    return "".join(MASK if i in hidden else c for i, c in enumerate(phone))


def shown_in_full(viewer: Principal | None, member_id: str | None) -> bool:
    """Whether ``viewer`` may see this member's personal data unmasked: only the member."""
    return viewer is not None and viewer.role == "member" and viewer.member_id == member_id


def member_name_for(
    viewer: Principal | None, member_id: str | None, name: str | None
) -> str | None:
    """A member's name as ``viewer`` may see it."""
    return name if shown_in_full(viewer, member_id) else mask_name(name)


def member_phone_for(
    viewer: Principal | None, member_id: str | None, phone: str | None
) -> str | None:
    """A member's phone number as ``viewer`` may see it."""
    return phone if shown_in_full(viewer, member_id) else mask_phone(phone)


def card_token(number: str, key: bytes) -> tuple[str, str]:
    """(token, last four digits) of a card number; spaces and dashes are ignored.

    The token is an HMAC-SHA256 under the server key (``Settings.signing_key``): the
    same number gives the same token, and without the key no one can test a guess.
    """
    digits = re.sub(r"[\s-]", "", number)
    low, high = CARD_NUMBER_DIGITS
    if not digits.isascii() or not digits.isdigit() or not low <= len(digits) <= high:
        raise ValueError(f"a card number has {low}..{high} digits")
    token = hmac.new(key, b"card:" + digits.encode(), hashlib.sha256).hexdigest()
    return token, digits[-4:]
