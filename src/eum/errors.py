"""Domain errors: one typed exception per SPEC error name.

Every error raised by a service carries a stable ``code`` equal to the name used in
SPEC section 3 and the scenario format. Entry points map codes to their own world:
HTTP problem+json, CLI exit codes, scenario results. Services raise these only
before they write anything, so a failed operation leaves no trace but its error.
"""

from __future__ import annotations

from typing import ClassVar


class EumError(Exception):
    """Base of every domain error; ``code`` is the SPEC name."""

    code: ClassVar[str] = "error"
    status: ClassVar[int] = 422
    message_ko: ClassVar[str] = "요청을 처리할 수 없습니다."
    message_en: ClassVar[str] = "The request cannot be processed."

    def __init__(self, detail: str | None = None, *, field: str | None = None) -> None:
        super().__init__(detail or self.message_en)
        self.detail = detail or self.message_en
        self.field = field


def _error(code: str, status: int, ko: str, en: str, doc: str) -> type[EumError]:
    cls = type(
        "".join(part.title() for part in code.split("_")),
        (EumError,),
        {"code": code, "status": status, "message_ko": ko, "message_en": en, "__doc__": doc},
    )
    return cls


InvalidAmount = _error(
    "invalid_amount",
    422,
    "금액은 1원부터 10억원까지의 정수여야 합니다.",
    "The amount must be an integer from 1 to 1,000,000,000 KRW.",
    "Raised when an amount is not an integer in 1..1,000,000,000 (SPEC 3.1).",
)
MonthlyChargeLimit = _error(
    "monthly_charge_limit",
    422,
    "이번 달 충전 한도를 넘습니다.",
    "This charge exceeds the monthly charge limit.",
    "Raised when this month's charges would exceed the card kind's limit (SPEC 3.5).",
)
MaxBalance = _error(
    "max_balance",
    422,
    "보유 한도를 넘습니다.",
    "This charge exceeds the maximum balance.",
    "Raised when cashback + charged would exceed the card kind's maximum balance (SPEC 3.5).",
)
InsufficientFunds = _error(
    "insufficient_funds",
    422,
    "잔액이 부족합니다.",
    "Insufficient funds.",
    "Raised when a wallet, pool or charged balance cannot cover an amount (SPEC 3.6, 3.11, 3.14).",
)
InsufficientCashback = _error(
    "insufficient_cashback",
    422,
    "캐시백 적립금이 부족합니다.",
    "Insufficient cashback.",
    "Raised when a donation or contribution exceeds the member's cashback (SPEC 3.13, 3.14).",
)
WithdrawalNotAllowed = _error(
    "withdrawal_not_allowed",
    422,
    "충전금의 60% 이상을 사용한 뒤에 환불할 수 있습니다.",
    "Withdrawal is allowed only after spending the required share of what was charged.",
    "Raised when net spending is below withdraw_min_used_bps of all charges (SPEC 3.11).",
)
MerchantNotInRegion = _error(
    "merchant_not_in_region",
    422,
    "이 카드를 사용할 수 없는 지역의 가맹점입니다.",
    "The merchant is outside the card's region.",
    "Raised when the merchant's district is outside the card's metro region (SPEC 3.3).",
)
MerchantInactive = _error(
    "merchant_inactive",
    422,
    "거래할 수 없는 가맹점입니다.",
    "The merchant is not active.",
    "Raised when paying an inactive merchant (SPEC 3.18).",
)
RefundExceedsPayment = _error(
    "refund_exceeds_payment",
    422,
    "환불 금액이 결제 잔액을 넘습니다.",
    "The refund exceeds what remains of the payment.",
    "Raised when a refund exceeds charged minus refunded so far (SPEC 3.9).",
)
CouponSoldOut = _error(
    "coupon_sold_out",
    422,
    "쿠폰이 모두 소진되었습니다.",
    "The coupon is sold out.",
    "Raised when every unit of a coupon has been claimed (SPEC 3.12).",
)
CouponAlreadyClaimed = _error(
    "coupon_already_claimed",
    409,
    "이미 받은 쿠폰입니다.",
    "The coupon was already claimed.",
    "Raised when a member claims a coupon it claimed before, used or not (SPEC 3.12).",
)
CouponNotHeld = _error(
    "coupon_not_held",
    422,
    "보유하지 않았거나 이미 사용한 쿠폰입니다.",
    "The coupon is not held or was already used.",
    "Raised when paying with a coupon never claimed or already used (SPEC 3.12).",
)
CouponWrongMerchant = _error(
    "coupon_wrong_merchant",
    422,
    "이 가맹점에서 쓸 수 없는 쿠폰입니다.",
    "The coupon belongs to another merchant.",
    "Raised when paying with another merchant's coupon (SPEC 3.12).",
)
CouponMinSpend = _error(
    "coupon_min_spend",
    422,
    "쿠폰 최소 결제 금액에 미치지 못합니다.",
    "The payment is below the coupon's minimum spend.",
    "Raised when amount - discount is below the coupon's min_spend (SPEC 3.12).",
)
CouponExpired = _error(
    "coupon_expired",
    422,
    "쿠폰 사용 기간이 아닙니다.",
    "The coupon is outside its validity period.",
    "Raised when claiming or using a coupon outside its period (SPEC 3.12).",
)
NotGroupMember = _error(
    "not_group_member",
    403,
    "모임 회원이 아닙니다.",
    "Not a member of the group.",
    "Raised when a non-member contributes to a user group (SPEC 3.14).",
)
NotGroupOwner = _error(
    "not_group_owner",
    403,
    "모임 대표만 할 수 있습니다.",
    "Only the group owner can do this.",
    "Raised when someone other than the owner spends a group's pool (SPEC 3.14).",
)
IdempotencyConflict = _error(
    "idempotency_conflict",
    409,
    "같은 멱등 키로 다른 요청이 이미 처리되었습니다.",
    "This idempotency key was used for a different request.",
    "Raised when a key is reused with a different request; never stored (SPEC 3.16).",
)
UnknownMember = _error(
    "unknown_member",
    404,
    "회원을 찾을 수 없습니다.",
    "Unknown member.",
    "Raised when a member id does not exist (SPEC 3.18).",
)
UnknownMerchant = _error(
    "unknown_merchant",
    404,
    "가맹점을 찾을 수 없습니다.",
    "Unknown merchant.",
    "Raised when a merchant id does not exist (SPEC 3.18).",
)
UnknownPayment = _error(
    "unknown_payment",
    404,
    "결제를 찾을 수 없습니다.",
    "Unknown payment.",
    "Raised when no successful payment has that reference (SPEC 3.18).",
)
UnknownCoupon = _error(
    "unknown_coupon",
    404,
    "쿠폰을 찾을 수 없습니다.",
    "Unknown coupon.",
    "Raised when a coupon id does not exist (SPEC 3.18).",
)
UnknownGroup = _error(
    "unknown_group",
    404,
    "모임을 찾을 수 없습니다.",
    "Unknown group.",
    "Raised when a user group id does not exist (SPEC 3.18).",
)
UnknownCampaign = _error(
    "unknown_campaign",
    404,
    "기부 캠페인을 찾을 수 없습니다.",
    "Unknown campaign.",
    "Raised when a campaign id does not exist (SPEC 3.18).",
)
UnknownBudget = _error(
    "unknown_budget",
    404,
    "예산을 찾을 수 없습니다.",
    "Unknown budget.",
    "Raised when a budget id does not exist (SPEC 3.18).",
)
UnknownIssuer = _error(
    "unknown_issuer",
    404,
    "발행처를 찾을 수 없습니다.",
    "Unknown issuer.",
    "Raised when an issuer id does not exist.",
)
UnknownRule = _error(
    "unknown_rule",
    404,
    "규칙을 찾을 수 없습니다.",
    "Unknown rule.",
    "Raised when a rule id does not exist.",
)
UnknownMerchantGroup = _error(
    "unknown_merchant_group",
    404,
    "상인 모임을 찾을 수 없습니다.",
    "Unknown merchant group.",
    "Raised when a merchant group id does not exist.",
)
InvalidRequest = _error(
    "invalid_request",
    422,
    "요청 내용이 올바르지 않습니다.",
    "The request is not valid.",
    "Raised when set-up data (issuers, rules, merchants...) breaks a constraint.",
)
AlreadyExists = _error(
    "already_exists",
    409,
    "이미 있는 항목입니다.",
    "It already exists.",
    "Raised when creating something whose id is taken.",
)

Unauthorized = _error(
    "unauthorized",
    401,
    "로그인이 필요합니다.",
    "Authentication is required or failed.",
    "Raised when a token is missing, unknown, expired or revoked, or a login fails.",
)
AccountLocked = _error(
    "account_locked",
    423,
    "로그인 실패가 많아 잠시 잠겼습니다. 잠시 후 다시 시도하세요.",
    "Too many failed logins: the account is locked for a while.",
    "Raised when logging in to an account locked after repeated failures.",
)
Forbidden = _error(
    "forbidden",
    403,
    "권한이 없습니다.",
    "You are not allowed to do this.",
    "Raised when the caller's role or area does not allow the request.",
)
NotFound = _error(
    "not_found",
    404,
    "찾을 수 없습니다.",
    "Not found.",
    "Raised for a resource that does not exist or lies outside the caller's area.",
)
IdempotencyKeyRequired = _error(
    "idempotency_key_required",
    400,
    "Idempotency-Key 헤더가 필요합니다.",
    "Requests that move money need an Idempotency-Key header.",
    "Raised when a money request comes without an Idempotency-Key header.",
)
QrInvalid = _error(
    "qr_invalid",
    422,
    "올바르지 않은 QR 코드입니다.",
    "The QR payload is not valid.",
    "Raised for a QR payload that was altered, malformed or signed with another key.",
)
QrExpired = _error(
    "qr_expired",
    422,
    "유효 시간이 지난 QR 코드입니다.",
    "The QR payload has expired.",
    "Raised for a QR payload used after its expiry.",
)
QrAmountMismatch = _error(
    "qr_amount_mismatch",
    422,
    "QR 코드의 금액과 결제 금액이 다릅니다.",
    "The amount differs from the QR payload's fixed amount.",
    "Raised when a payment's amount differs from the fixed amount in its QR payload.",
)
InvalidState = _error(
    "invalid_state",
    409,
    "지금 상태에서는 할 수 없습니다.",
    "Not possible in the current state.",
    "Raised when an action does not fit the current state (e.g. approving twice).",
)

TooManyAttempts = _error(
    "too_many_attempts",
    429,
    "로그인 시도가 너무 많습니다. 잠시 후 다시 시도하세요.",
    "Too many sign-in attempts from here; retry shortly.",
    "Raised when one client address tries to sign in too often (any login, any password).",
)

UnknownProduct = _error(
    "unknown_product",
    404,
    "상품을 찾을 수 없습니다.",
    "No such product.",
    "Raised when a product id does not exist (or is not on sale, for buyers).",
)
UnknownOrder = _error(
    "unknown_order",
    404,
    "주문을 찾을 수 없습니다.",
    "No such order.",
    "Raised when an order id does not exist or is not the caller's.",
)
OutOfStock = _error(
    "out_of_stock",
    409,
    "재고가 부족합니다.",
    "Not enough stock.",
    "Raised when a checkout wants more of a product than is left; nothing is charged.",
)
CartEmpty = _error(
    "cart_empty",
    422,
    "장바구니가 비어 있습니다.",
    "The cart is empty.",
    "Raised when a checkout finds nothing in the cart.",
)
NotBenefitPlus = _error(
    "not_benefit_plus",
    403,
    "혜택플러스 가맹점만 이용할 수 있습니다.",
    "Only Benefit Plus merchants can use this.",
    "Raised when a merchant outside Benefit Plus (or one that left it) asks for its services.",
)
SlotTaken = _error(
    "slot_taken",
    409,
    "이미 예약된 상담 시간입니다.",
    "This consultation slot is already booked.",
    "Raised when booking a consultation slot that another merchant booked first.",
)

ALL_ERRORS: dict[str, type[EumError]] = {cls.code: cls for cls in EumError.__subclasses__()}
Overloaded = _error(
    "overloaded",
    429,
    "요청이 몰려 잠시 처리할 수 없습니다. 잠시 후 다시 시도해 주세요.",
    "Too many requests right now; retry shortly.",
    "Raised when the payment queue is full: the request was not taken, retry it later.",
)
PaymentPending = _error(
    "payment_pending",
    503,
    "결제 처리가 늦어지고 있습니다. 같은 Idempotency-Key로 다시 요청해 결과를 확인하세요.",
    "The payment was not answered in time; retry with the same Idempotency-Key.",
    "Raised when a queued payment got no answer in time; it may still commit.",
)
