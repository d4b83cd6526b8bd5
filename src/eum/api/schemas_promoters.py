"""Request bodies of the promoters' routes (routes_promoters): a visit, a sign-up, a
sticker's status. Strings are bounded and hold no control character (``Body``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field

from eum.api.schemas import Body, Id
from eum.promoters.service import MAX_NOTE_LENGTH


class VisitIn(Body):
    merchant: Id = Field(description="방문한 가맹점 (관할 구·군 안)")
    note: Annotated[str, Field(max_length=MAX_NOTE_LENGTH)] | None = None
    visited_at: datetime | None = Field(
        None, description="방문 시각 (기본: 지금). 31일 전까지, 미래는 안 됩니다."
    )


class SignupIn(Body):
    merchant: Id = Field(description="유치한 가맹점 (심사 중이거나 승인된, 관할 구·군 안)")


class StickerIn(Body):
    status: Literal["none", "requested", "attached"] = Field(
        description="스티커: none 없음, requested 신청, attached 부착"
    )
