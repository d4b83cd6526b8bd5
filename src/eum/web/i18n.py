"""Korean first, English on request: pages are written in Korean and each area of the web
app registers the English of its texts. A text without English shows in Korean.

Texts may hold ``{name}`` placeholders filled from keyword values after translation.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_english: dict[str, str] = {}


def register(texts: Mapping[str, str]) -> None:
    """Add English for Korean texts (each area of the web app calls this once). One table
    serves every page, so a text already registered with other English is refused: the
    page that imported last would otherwise decide what the other pages say."""
    for text, english_text in texts.items():
        known = _english.get(text)
        if known is not None and known != english_text:
            raise ValueError(f"{text!r} already reads {known!r} in English, not {english_text!r}")
    _english.update(texts)


def translate(text: str, lang: str, **values: Any) -> str:
    out = _english.get(text, text) if lang == "en" else text
    if values:
        try:
            return out.format(**values)
        except (KeyError, IndexError, ValueError):
            return out
    return out


def english(text: str) -> str | None:
    return _english.get(text)


register(
    {
        "Eum 이음 · 지역사랑상품권 플랫폼": "Eum · Local currency platform",
        "플랫폼 현황": "Platform at a glance",
        "회원": "Members",
        "가맹점": "Merchants",
        "발행액 (충전)": "Issued (charged)",
        "결제액 (환불 제외)": "Payments (net of refunds)",
        "결제 건수": "Payments",
        "환불(출금)액": "Withdrawn",
        "기부액": "Donated",
        "로그인": "Sign in",
        "로그아웃": "Sign out",
        "아이디": "Login",
        "비밀번호": "Password",
        "회원 가입": "Sign up",
        "가맹점 등록": "Register a shop",
        "가맹점 찾기": "Find shops",
        "온라인몰": "Online mall",
        "전화 주문": "Phone orders",
        "장바구니": "Cart",
        "주문 내역": "My orders",
        "활동 기록": "My field work",
        "온라인몰 상품": "Mall products",
        "온라인 주문": "Online orders",
        "혜택 서비스": "Benefit services",
        "가맹점 지원 서비스": "Merchant services",
        "지원활동가": "Field promoters",
        "내 지갑": "My wallet",
        "우리 가게": "My shop",
        "관리": "Admin",
        "API 문서": "API docs",
        "상태": "Status",
        "이름": "Name",
        "카드 브랜드": "Card brand",
        "카드 종류": "Card kind",
        "개인": "Personal",
        "사는 구·군": "Home district",
        "구·군": "District",
        "업종": "Category",
        "연 매출": "Annual sales",
        "선택 안 함": "None",
        "가입하기": "Sign up",
        "등록 신청": "Apply",
        "등록 신청을 받았습니다. 관할 구·군의 승인 뒤에 결제를 받을 수 있습니다.": (
            "Application received. You can take payments once the district approves it."
        ),
        "가입을 환영합니다! 충전하고 바로 쓰세요.": "Welcome! Charge your wallet and start paying.",
        "로그인했습니다.": "Signed in.",
        "로그아웃했습니다.": "Signed out.",
        "아이디 또는 비밀번호가 맞지 않습니다.": "Wrong login or password.",
        "로그인이 필요합니다.": "Please sign in.",
        "이 페이지를 볼 권한이 없습니다.": "You may not open this page.",
        "찾을 수 없습니다.": "Not found.",
        "오류": "Error",
        "처음으로": "Home",
        "검색": "Search",
        "혜택플러스": "Benefit Plus",
        "혜택플러스만": "Benefit Plus only",
        "모두": "All",
        "캐시백": "Cashback",
        "예산 곧 소진": "Budget nearly spent",
        "예산 소진": "Budget spent",
        "선할인": "Discount",
        "결제하기": "Pay",
        "이전": "Previous",
        "다음": "Next",
        "가맹점이 없습니다.": "No shops found.",
        "내 카드로 오늘 받는 캐시백": "Cashback with your card today",
        # scheduled rate changes of a rule, told in advance (/shops, /pay, /wallet)
        "변경 예정": "Scheduled change",
        "{month}월 {day}일부터 캐시백 {before} → {after}": (
            "From {month}/{day}: cashback {before} → {after}"
        ),
        "{month}월 {day}일부터 {before} → {after}": "From {month}/{day}: {before} → {after}",
        "로그인하면 내 카드의 캐시백이 보입니다.": "Sign in to see the cashback of your card.",
        "명": "",
        "곳": "",
        "건": "",
        "메뉴": "Menu",
        "처음이신가요?": "New here?",
        "3~64자": "3 to 64 characters",
        "8자 이상": "at least 8 characters",
        "상호": "Shop name",
        "원, 예: 300,000,000": "won, e.g. 300,000,000",
        "관할 구·군의 승인 뒤에 결제를 받을 수 있습니다.": (
            "You can take payments once the district approves the shop."
        ),
        "우리 동네 가게에서 쓰는 지역화폐. 충전하고, 결제하고, 캐시백을 받으세요.": (
            "Local money for local shops: charge, pay and earn cashback."
        ),
        "요청 내용이 올바르지 않습니다.": "The request is not valid.",
        "일시적인 오류가 발생했습니다. 잠시 뒤 다시 시도해 주세요.": (
            "Something went wrong. Please try again in a moment."
        ),
        "아이디는 3~64자, 비밀번호는 8자 이상입니다.": (
            "Logins have 3 to 64 characters; passwords at least 8."
        ),
    }
)
