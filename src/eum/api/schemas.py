"""Request bodies. Amounts are strict integers of won: a float, a string or a boolean is
``invalid_amount`` (SPEC 3.1); every string has a bounded length and holds no control
character (NUL, which PostgreSQL cannot store, and the like) or lone surrogate."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator

from eum.money.model import MAX_RULE_STEPS

Won = Annotated[
    StrictInt, Field(ge=1, le=1_000_000_000, description="원 단위 정수 (1..1,000,000,000)")
]
Id = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
Name = Annotated[str, Field(min_length=1, max_length=200)]
Channel = Literal["card", "qr", "online"]
CardKind = Literal["personal", "business", "corporate"]


# C0 controls but tab and line breaks, DEL, and UTF-16 surrogates (not characters at all).
NOT_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @field_validator("*")
    @classmethod
    def _text_only(cls, value: Any) -> Any:
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, str) and NOT_TEXT.search(item):
                raise ValueError("control characters are not allowed")
        return value


class ChargeIn(Body):
    amount: Won


class WithdrawIn(Body):
    amount: Won


class PayIn(Body):
    """Pay a merchant by its id, or by a QR payload it showed (then ``merchant`` is omitted)."""

    merchant: Id | None = None
    qr: Annotated[str, Field(max_length=512)] | None = None
    amount: Won | None = None
    channel: Channel = "card"
    coupon: Id | None = None
    invoice: Annotated[str, Field(max_length=200)] | None = None


class RefundIn(Body):
    amount: Won


class SignupMemberIn(Body):
    login: Annotated[str, Field(min_length=3, max_length=64)]
    password: Annotated[str, Field(min_length=8, max_length=128)]
    name: Name | None = None
    card: Id = Field(description="카드 브랜드: 인천e음(incheon) 또는 구·군 발행처 (예: gyeyang)")
    kind: CardKind = "personal"
    home_district: Id | None = None


class MerchantIn(Body):
    name: Name
    district: Id
    category: Id | None = None
    annual_sales: Annotated[StrictInt, Field(ge=0, le=10**15)] = 0
    card_fee_bps: Annotated[StrictInt, Field(ge=0, le=1000)] = 0


class SignupMerchantIn(Body):
    login: Annotated[str, Field(min_length=3, max_length=64)]
    password: Annotated[str, Field(min_length=8, max_length=128)]
    merchant: MerchantIn


class LoginIn(Body):
    login: Annotated[str, Field(min_length=1, max_length=64)]
    password: Annotated[str, Field(min_length=1, max_length=128)]


class StaffIn(Body):
    login: Annotated[str, Field(min_length=3, max_length=64)]
    password: Annotated[str, Field(min_length=8, max_length=128)]
    role: Literal["promoter", "issuer_admin", "operator"]
    issuer_id: Id | None = None
    display_name: Name | None = None


# --- merchants (routes_merchants) -------------------------------------------------------

IsoDate = Annotated[
    str,
    Field(
        pattern=r"^\d{4}-\d{2}-\d{2}$",
        json_schema_extra={"format": "date"},
        description="KST 날짜 (YYYY-MM-DD)",
    ),
]


class ApprovalIn(Body):
    approve: Annotated[bool, Field(strict=True, description="true: 승인, false: 반려")]
    note: Annotated[str, Field(max_length=500)] | None = None


class BenefitPlusIn(Body):
    discount_bps: Annotated[StrictInt, Field(ge=100, le=700, description="선할인율 (100 = 1%)")]


class CouponIn(Body):
    name: Name | None = None
    value: Won
    min_spend: Annotated[StrictInt, Field(ge=0, le=1_000_000_000)] = 0
    quantity: Annotated[StrictInt, Field(ge=1, le=1_000_000)] | None = None
    valid_from: IsoDate | None = Field(None, alias="from")
    valid_until: IsoDate | None = Field(None, alias="until")


class MerchantGroupIn(Body):
    id: Id
    name: Name
    merchants: Annotated[list[Id], Field(min_length=1, max_length=500)]


# --- policy, community, operations (routes_policy, routes_community, routes_ops) ---------

Bps = Annotated[StrictInt, Field(ge=0, le=10_000, description="basis points (100 = 1%)")]
BigWon = Annotated[StrictInt, Field(ge=0, le=10**15, description="원 단위 정수")]
Ids = Annotated[list[Id], Field(max_length=200)]


class IssuerIn(Body):
    id: Id
    name: Name
    districts: Annotated[list[Id], Field(min_length=1, max_length=200)]
    parent: Id | None = Field(None, description="상위 발행처 (광역시는 없음)")


class RuleStepIn(Body):
    """A rate change announced in advance: from this KST day on, the rule pays ``rate_bps``."""

    valid_from: IsoDate = Field(alias="from", description="이 날(KST)부터 새 비율")
    rate_bps: Bps


class RuleChangeIn(Body):
    """Conditions of a cashback or fee-support rule (SPEC 3.7, 3.8); null = the default."""

    name: Name | None = None
    budget: Id | None = None
    rate_bps: Bps | None = None
    monthly_cap: BigWon | None = None
    cards: Id | None = Field(None, description="이 발행처 또는 그 아래 발행처의 카드 [owner]")
    districts: Ids | None = Field(None, description="가맹점 소재 구·군 [owner의 지역]")
    card_kinds: list[CardKind] | None = None
    merchant_tiers: list[Literal["general", "benefit_plus"]] | None = None
    max_annual_sales: BigWon | None = None
    channels: list[Channel] | None = None
    merchant_group: Id | None = None
    valid_from: IsoDate | None = Field(None, alias="from")
    valid_until: IsoDate | None = Field(None, alias="until")
    steps: Annotated[list[RuleStepIn], Field(max_length=MAX_RULE_STEPS)] | None = Field(
        None,
        description=(
            "예정된 비율 변경 (날짜 오름차순): 결제일(KST)에 시작된 마지막 변경의 비율, "
            "없으면 rate_bps. 빈 목록이나 null은 변경 없음"
        ),
    )


class RuleIn(RuleChangeIn):
    id: Id
    kind: Literal["cashback", "fee_support"]
    owner: Id
    rate_bps: Bps


class BudgetIn(Body):
    id: Id
    owner: Id = Field(description="발행처 또는 상인 모임")
    amount: Annotated[StrictInt, Field(ge=0, le=1_000_000_000)] = 0
    name: Name | None = None


class AmountIn(Body):
    amount: Won


class CampaignIn(Body):
    id: Id
    name: Name
    owner: Id


class GroupIn(Body):
    id: Id | None = None
    name: Name
    members: Annotated[list[Id], Field(max_length=100)] = []


class GroupPaymentIn(Body):
    merchant: Id
    amount: Won
    channel: Channel = "card"


class GroupDonationIn(Body):
    campaign: Id
    amount: Won


class BudgetChangeIn(Body):
    name: Name
