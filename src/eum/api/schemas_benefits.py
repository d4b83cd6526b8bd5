"""Request bodies of the phone-order directory and the Benefit Plus services; bounded
like every body (``schemas.Body``): lengths, ranges, no control characters. The services
check the finer rules (a real phone number, menu lines, a start in the future)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StrictInt

from eum.api.schemas import Body, Id
from eum.benefits import service

IsoTime = Annotated[
    str,
    Field(
        max_length=40,
        pattern=r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})?$",
        json_schema_extra={"format": "date-time"},
        description="시작 시각 (ISO 8601; 시간대가 없으면 KST)",
    ),
]


class PhoneListingIn(Body):
    phone: Annotated[
        str,
        Field(
            min_length=1,
            max_length=service.MAX_PHONE_TYPED,
            pattern=r"^[0-9][0-9 .-]*[0-9]$",
            description="전화번호 (예: 032-123-4567, 010-1234-5678)",
        ),
    ]
    hours: Annotated[
        str,
        Field(
            min_length=1,
            max_length=service.MAX_HOURS_LENGTH,
            description="영업시간 (한 줄, 예: 매일 11:00~21:00)",
        ),
    ]
    menu: Annotated[
        str,
        Field(
            min_length=1,
            max_length=service.MAX_MENU_LENGTH,
            description=(
                f"차림표: 줄마다 한 가지, {service.MAX_MENU_LINES}줄까지, "
                f"한 줄 {service.MAX_MENU_LINE_LENGTH}자까지"
            ),
        ),
    ]


class SlotIn(Body):
    issuer: Id | None = Field(None, description="발행처 (생략하면 내 발행처)")
    kind: Literal["tax", "legal", "labour"] = Field(description="세무 | 법률 | 노무")
    starts_at: IsoTime
    minutes: Annotated[StrictInt, Field(ge=service.MIN_SLOT_MINUTES, le=service.MAX_SLOT_MINUTES)]
    place: Annotated[str, Field(min_length=1, max_length=service.MAX_PLACE_LENGTH)]


class BookingIn(Body):
    note: Annotated[str, Field(max_length=service.MAX_NOTE_LENGTH)] | None = Field(
        None, description="상담받고 싶은 내용 (선택)"
    )


class QrKitIn(Body):
    address: Annotated[str, Field(min_length=1, max_length=service.MAX_ADDRESS_LENGTH)] = Field(
        description="받을 주소"
    )


class QrKitMoveIn(Body):
    status: Literal["shipped", "delivered", "cancelled"]
