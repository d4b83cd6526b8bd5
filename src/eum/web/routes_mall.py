"""The mall's pages (인천e몰), phone first, on the same mall service as the API.

Citizens browse and search the products on sale, see what their card earns at the shop
(the same quote a payment would give), keep a cart, check out from the wallet (one
order per shop, each an ``online`` payment: all paid or none), follow their orders,
cancel one before it ships and confirm that it arrived. Shops list products with a
photo and handle their orders: ship with a tracking number, mark delivered, cancel, and
refund a delivered order in part.

Every form that moves money (checkout, cancel, refund) carries an idempotency key drawn
with the page (``money.once``): a double tap or a resent form books once and shows the
first result. A form shown again after an error gets a fresh key, as on /pay.
"""

from __future__ import annotations

import base64
import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from sqlalchemy import Connection
from starlette.datastructures import UploadFile

from eum import errors
from eum.auth.model import Principal
from eum.clock import now, parse_time
from eum.mall import images, views
from eum.mall import service as mall
from eum.merchants import service as merchants
from eum.payments import quote
from eum.payments import views as payment_views
from eum.wallets import service as wallets
from eum.wallets import views as wallet_views
from eum.web import i18n, money, names, pages, session

router = APIRouter(include_in_schema=False)

BROWSE_PAGE = 20
ORDERS_PAGE = 20
SHOP_PRODUCTS_PAGE = 50
MAX_ID = 64  # a product or order id from a path or form
MAX_QUERY = 100  # a search text
MAX_CURSOR = 400
MAX_NUMBER = 9  # digits of a typed quantity or stock
ORDER_STATUS = {
    "paid": "결제 완료",
    "shipped": "발송",
    "delivered": "배송 완료",
    "cancelled": "취소",
}
ORDER_BADGE = {"paid": "ok", "shipped": "warn", "delivered": "ok", "cancelled": "bad"}
BACK = re.compile(r"/shop/orders(\?status=(paid|shipped|delivered|cancelled))?")
# What a person reads when a typed field is refused (the error's own text is generic).
FIELD_HINTS = {
    "quantity": "수량은 1부터 99까지의 숫자로 입력하세요.",
    "stock": "재고는 0부터 1,000,000까지의 숫자로 입력하세요.",
    "price": "가격은 1원부터 1억원까지의 숫자로 입력하세요.",
    "name": "상품 이름을 200자 안으로 입력하세요.",
    "description": "설명은 4,000자까지 쓸 수 있습니다.",
    "category": "업종은 64자까지입니다.",
    "active": "판매 상태를 고르세요.",
    "tracking": "송장 번호는 200자까지입니다.",
    "image": "사진은 PNG, JPEG 또는 WebP 파일로 {limit}까지 올릴 수 있습니다.",
}
OUT_OF_STOCK = "재고가 부족합니다: {name} (남은 수량 {stock}개)"
NOT_ON_SALE = "지금 팔지 않는 상품이 있습니다: {name}"


_db = pages.database


_member = pages.member


_shop = pages.shop


def _code(value: str | None) -> str:
    return (value or "").strip()[:MAX_ID]


def _photo_limit() -> int:
    """The largest photo the form takes (the app's body limit lets a photo's form
    through at this form's address: eum.api.app.PHOTO_UPLOADS)."""
    return images.MAX_BYTES


def _size(n: int) -> str:
    return f"{n // 1_000_000} MB" if n >= 1_000_000 else f"{n // 1024} KB"


def _form_error(request: Request, exc: errors.EumError) -> dict[str, Any]:
    """The error for a form shown again, in words fit for the field that was refused."""
    context = pages.form_error(request, exc)
    hint = FIELD_HINTS.get(context["error"]["field"] or "")
    if hint and exc.code in ("invalid_request", "invalid_amount"):
        lang = session.visitor(request).lang
        context["error"]["text"] = i18n.translate(hint, lang, limit=_size(_photo_limit()))
    return context


def _naming(request: Request, exc: errors.EumError, text: str, **values: Any) -> dict[str, Any]:
    """The error for a form shown again, told in ``text`` (naming what it is about)."""
    context = pages.form_error(request, exc)
    context["error"]["text"] = i18n.translate(text, session.visitor(request).lang, **values)
    return context


def _whole(text: str | None, field: str) -> int:
    """A count typed by a person ('1,000', '5개'); its range is the service's to check."""
    clean = (text or "").replace(",", "").replace("개", "").replace(" ", "").strip()
    if not (clean.isascii() and clean.isdigit()) or len(clean) > MAX_NUMBER:
        raise errors.InvalidRequest(f"{field} must be a whole number", field=field)
    return int(clean)


def _quantity(text: str | None, *, low: int = 1) -> int:
    quantity = _whole(text, "quantity")
    if not low <= quantity <= mall.MAX_QUANTITY:
        raise errors.InvalidRequest(
            f"quantity must be {low}..{mall.MAX_QUANTITY}", field="quantity"
        )
    return quantity


def _cursor(value: str | None) -> str | None:
    """A page position as it goes in a link."""
    if value is None:
        return None
    return base64.urlsafe_b64encode(value.encode()).decode().rstrip("=")


def _after(cursor: str | None) -> str | None:
    """The page position of a link's cursor; a mangled one starts from the top."""
    if not cursor or len(cursor) > MAX_CURSOR:
        return None
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    # \x1f parts a position's fields; any other control character is no position of ours
    return None if pages.NOT_TEXT.search(text.replace("\x1f", "")) else text


def _order_after(cursor: str | None) -> str | None:
    """An orders page position (``time\\x1fid``), or None when it is not one."""
    after = _after(cursor)
    if after is None:
        return None
    at, _, last = after.partition("\x1f")
    try:
        parse_time(at)
    except (ValueError, TypeError):
        return None
    return after if last else None


def _rates(
    conn: Connection, member_id: str | None, shops: set[str], at: Any
) -> dict[str, quote.ShopRate]:
    """What the member's card earns on an online payment at each shop today."""
    if member_id is None or not shops:
        return {}
    member = wallets.find_member(conn, member_id)
    found = [merchants.find_merchant(conn, shop) for shop in sorted(shops)]
    return quote.shop_rates(conn, member, found, at, channel="online")


def _quote(
    conn: Connection, member_id: str, merchant_id: str, amount: int, at: Any
) -> dict[str, Any] | None:
    """What paying ``amount`` online at the shop would do now (discount, charged,
    cashback per rule), or None when it could not be paid now (the wallet is short...)."""
    try:
        return quote.quote(
            conn,
            member_id=member_id,
            merchant_id=merchant_id,
            amount_krw=amount,
            at=at,
            channel="online",
        )
    except errors.EumError:
        return None


def _rule_names(conn: Connection, member_id: str, at: Any) -> dict[str, str]:
    """Names of the cashback rules of the member's card (the rule id when unnamed)."""
    rules = wallet_views.overview(conn, member_id, at)["rules"]
    return {r["rule"]: r["name"] or r["rule"] for r in rules}


def _line(basket: dict[str, Any], product_id: str) -> dict[str, Any] | None:
    return next(
        (
            line
            for shop in basket["shops"]
            for line in shop["lines"]
            if line["product"] == product_id
        ),
        None,
    )


def _put_in_cart(
    conn: Connection, member_id: str, product_id: str, quantity: int, *, add: bool
) -> None:
    """Put ``quantity`` (``add``: that many more) of a product in the cart, refusing
    more than the stock left today (checkout checks again, under lock)."""
    at = now()
    if quantity > 0:
        row = mall.on_sale(conn, product_id)
        held = _line(mall.cart(conn, member_id), product_id) if add else None
        quantity += held["quantity"] if held else 0
        if quantity > int(row.stock):
            raise errors.OutOfStock(f"{row.name}: {row.stock} left", field="quantity")
    mall.set_cart_line(conn, member_id=member_id, product_id=product_id, quantity=quantity, at=at)


# --- browsing ------------------------------------------------------------------------------


@router.get("/mall")
def browse(
    request: Request,
    q: str | None = Query(None, max_length=200),
    category: str | None = Query(None, max_length=200),
    district: str | None = Query(None, max_length=200),
    cursor: str | None = Query(None, max_length=MAX_CURSOR),
) -> Response:
    """온라인몰: 상품 검색(이름·설명), 업종, 구·군; 시민에게는 가게별 내 카드의 캐시백."""
    who = session.visitor(request)
    member_id = who.principal.member_id if who.principal is not None else None
    query = {
        "q": (q or "").strip()[:MAX_QUERY],
        "category": _code(category),
        "district": _code(district),
    }
    after = _after(cursor)

    def read(conn: Connection) -> dict[str, Any]:
        items, last = views.browse(
            conn,
            q=query["q"] or None,
            category=query["category"] or None,
            district=query["district"] or None,
            merchant=None,
            limit=BROWSE_PAGE,
            after=after,
        )
        return {
            "products": items,
            "next_cursor": _cursor(last),
            "rates": _rates(conn, member_id, {p["merchant"] for p in items}, now()),
            "districts": names.districts_known(conn),
        }

    return pages.render(
        request,
        "mall/browse.html",
        query=query,
        first_page=after is None,
        categories=names.CATEGORIES,
        **_db(request).read(read),
    )


def _product_page(
    request: Request,
    product_id: str,
    *,
    status: int = 200,
    error: errors.EumError | None = None,
    **context: Any,
) -> Response:
    """A product: photo, price, stock left, the shop; for a member its card's cashback
    at this shop online, what one costs from the wallet, and the cart form."""
    who = session.visitor(request)
    member_id = who.principal.member_id if who.principal is not None else None
    at = now()

    def read(conn: Connection) -> dict[str, Any]:
        item = views.product(conn, product_id)
        out: dict[str, Any] = {"product": item, "rate": None, "quote": None, "in_cart": 0}
        if member_id is not None:
            out["rate"] = _rates(conn, member_id, {item["merchant"]}, at).get(item["merchant"])
            out["quote"] = _quote(conn, member_id, item["merchant"], item["price"], at)
            held = _line(mall.cart(conn, member_id), item["id"])
            out["in_cart"] = held["quantity"] if held else 0
            out["rule_names"] = _rule_names(conn, member_id, at)
        return out

    found = _db(request).read(read)
    item = found["product"]
    if error is not None and error.code == "out_of_stock":
        context.update(
            _naming(request, error, OUT_OF_STOCK, name=item["name"], stock=item["stock"])
        )
    elif error is not None:
        context.update(_form_error(request, error))
    context.setdefault("form", {})
    return pages.render(request, "mall/product.html", status=status, **found, **context)


@router.get("/mall/products/{product_id}")
def product(request: Request, product_id: str) -> Response:
    """상품: 사진, 가격, 남은 수량, 가게; 내 카드의 캐시백과 장바구니 담기."""
    return _product_page(request, _code(product_id))


@router.post("/mall/products/{product_id}/cart")
def add_to_cart(request: Request, form: pages.Posted, product_id: str) -> Response:
    """담기: 장바구니에 있던 수량에 더합니다 (남은 재고까지)."""
    me = _member(request)
    product_id, member_id = _code(product_id), me.member_id or ""
    try:
        quantity = _quantity(form.get("quantity"))
        _db(request).run(lambda c: _put_in_cart(c, member_id, product_id, quantity, add=True))
    except errors.EumError as exc:
        return _product_page(
            request,
            product_id,
            status=exc.status,
            form={"quantity": form.get("quantity", "")[:MAX_NUMBER]},
            error=exc,
        )
    return pages.redirect(request, "/mall/cart", "장바구니에 담았습니다.")


# --- the cart and checkout -------------------------------------------------------------------


def _cart_problem(
    request: Request, exc: errors.EumError, basket: dict[str, Any], product_id: str | None
) -> dict[str, Any]:
    """A cart's error in words that name the product it is about: the one a checkout
    names in its field (``cart.<id>``), or the one whose form was sent."""
    field = exc.field or ""
    if field.startswith("cart."):
        product_id = field.removeprefix("cart.")
    line = _line(basket, product_id) if product_id else None
    if line is not None and exc.code == "out_of_stock":
        found = _naming(request, exc, OUT_OF_STOCK, name=line["name"], stock=line["stock"])
    elif line is not None and exc.code == "unknown_product":
        found = _naming(request, exc, NOT_ON_SALE, name=line["name"])
    else:
        found = _form_error(request, exc)
    found["error"]["product"] = line["product"] if line else None
    return found


def _cart_page(
    request: Request,
    me: Principal,
    *,
    status: int = 200,
    error: errors.EumError | None = None,
    product_id: str | None = None,
    ship_to: str | None = None,
) -> Response:
    """The cart by shop: lines, each shop's part at list price and what paying it would
    take from the wallet (discount, expected cashback), the total and the wallet."""
    member_id = me.member_id or ""
    at = now()

    def read(conn: Connection) -> dict[str, Any]:
        basket = mall.cart(conn, member_id)
        quotes = {s["merchant"]: _quote(conn, member_id, s["merchant"], s["amount"], at)
                  for s in basket["shops"]}  # fmt: skip
        ids = [line["product"] for shop in basket["shops"] for line in shop["lines"]]
        return {
            "cart": basket,
            "photos": views.photos(conn, ids),
            "quotes": quotes,
            "wallet": wallets.wallet(conn, member_id),
            "rule_names": _rule_names(conn, member_id, at) if basket["shops"] else {},
            "ship_to": ship_to if ship_to is not None else views.last_ship_to(conn, member_id),
        }

    found = _db(request).read(read)
    context: dict[str, Any] = {"error": None}
    if error is not None:
        context = _cart_problem(request, error, found["cart"], product_id)
    quotes = found["quotes"]
    to_pay = None
    if quotes and all(q is not None for q in quotes.values()):
        to_pay = sum(q["charged"] for q in quotes.values() if q is not None)
    return pages.render(
        request,
        "mall/cart.html",
        status=status,
        key=money.new_key(),
        to_pay=to_pay,
        **found,
        **context,
    )


@router.get("/mall/cart")
def cart(request: Request) -> Response:
    """장바구니: 가게별 상품과 수량, 가게별 합계, 총액, 지갑 잔액, 결제하기."""
    return _cart_page(request, _member(request))


@router.post("/mall/cart/{product_id}")
def set_quantity(request: Request, form: pages.Posted, product_id: str) -> Response:
    """수량 바꾸기 (0이면 빼기)."""
    me = _member(request)
    product_id, member_id = _code(product_id), me.member_id or ""
    try:
        quantity = _quantity(form.get("quantity"), low=0)
        _db(request).run(lambda c: _put_in_cart(c, member_id, product_id, quantity, add=False))
    except errors.EumError as exc:
        return _cart_page(request, me, status=exc.status, error=exc, product_id=product_id)
    done = "장바구니에서 뺐습니다." if quantity == 0 else "수량을 바꿨습니다."
    return pages.redirect(request, "/mall/cart", done)


@router.post("/mall/checkout")
def checkout(request: Request, form: pages.Posted) -> Response:
    """장바구니 결제 (페이지의 멱등 키로 한 번만): 가게마다 주문 하나, 모두 결제되거나
    하나도 결제되지 않습니다."""
    me = _member(request)
    member_id = me.member_id or ""
    ship_to = form.get("ship_to", "")
    try:
        done = money.once(
            request,
            me,
            form,
            "mall_checkout",
            {"ship_to": ship_to},
            lambda c, at: mall.checkout(c, member_id=member_id, at=at, ship_to=ship_to),
        )
    except errors.EumError as exc:
        return _cart_page(request, me, status=exc.status, error=exc, ship_to=ship_to)
    message = "이미 처리된 결제입니다." if done.get("replayed") else "결제했습니다."
    return pages.redirect(request, f"/mall/checkouts/{done['checkout']}", message)


@router.get("/mall/checkouts/{checkout_id}")
def receipt(request: Request, checkout_id: str) -> Response:
    """결제 영수증: 가게별 주문, 상품, 선할인, 결제액, 캐시백."""
    me = _member(request)
    checkout_id, member_id = _code(checkout_id), me.member_id or ""
    at = now()

    def read(conn: Connection) -> dict[str, Any]:
        made = views.checkout_orders(conn, checkout_id, member_id)
        return {
            "orders": made,
            "paid": {o["id"]: payment_views.one(conn, me, o["payment_id"]) for o in made},
            "rule_names": _rule_names(conn, member_id, at),
            "wallet": wallets.wallet(conn, member_id),
        }

    return pages.render(
        request, "mall/receipt.html", statuses=ORDER_STATUS, badges=ORDER_BADGE,
        **_db(request).read(read),
    )  # fmt: skip


# --- the member's orders ---------------------------------------------------------------------


@router.get("/mall/orders")
def my_orders(
    request: Request, cursor: str | None = Query(None, max_length=MAX_CURSOR)
) -> Response:
    """주문 내역: 가게, 상품, 결제액, 상태, 송장, 환불; 발송 전 취소, 받았어요."""
    me = _member(request)
    member_id = me.member_id or ""
    after = _order_after(cursor)
    items, last = _db(request).read(
        lambda c: views.orders_of(c, ORDERS_PAGE, after, member_id=member_id)
    )
    return pages.render(
        request,
        "mall/orders.html",
        orders=items,
        keys={o["id"]: money.new_key() for o in items if o["status"] == "paid"},
        next_cursor=_cursor(last),
        first_page=after is None,
        statuses=ORDER_STATUS,
        badges=ORDER_BADGE,
    )


def _order_page(
    request: Request, me: Principal, order_id: str, *, status: int = 200, **context: Any
) -> Response:
    member_id = me.member_id or ""
    at = now()

    def read(conn: Connection) -> dict[str, Any]:
        order = views.order(conn, order_id, member_id=member_id)
        return {
            "order": order,
            "payment": payment_views.one(conn, me, order["payment_id"]),
            "rule_names": _rule_names(conn, member_id, at),
        }

    return pages.render(
        request,
        "mall/order.html",
        status=status,
        key=money.new_key(),
        statuses=ORDER_STATUS,
        badges=ORDER_BADGE,
        **_db(request).read(read),
        **context,
    )


@router.get("/mall/orders/{order_id}")
def my_order(request: Request, order_id: str) -> Response:
    """주문: 상품, 결제액과 캐시백, 상태와 송장, 환불."""
    return _order_page(request, _member(request), _code(order_id))


@router.post("/mall/orders/{order_id}/cancel")
def cancel_my_order(request: Request, form: pages.Posted, order_id: str) -> Response:
    """주문 취소 (발송 전, 키로 한 번만): 전액 환불, 캐시백 회수, 재고 복구."""
    me = _member(request)
    order_id, member_id = _code(order_id), me.member_id or ""
    _db(request).read(lambda c: views.order(c, order_id, member_id=member_id))  # or 404
    try:
        done = money.once(
            request,
            me,
            form,
            "mall_cancel",
            {"order": order_id},
            lambda c, at: mall.cancel(c, order_id=order_id, member_id=member_id, at=at),
        )
    except errors.EumError as exc:
        return _order_page(
            request, me, order_id, status=exc.status, failed="cancel", **_form_error(request, exc)
        )
    refund = done.get("refund") or {}
    if done.get("replayed"):
        return pages.redirect(request, f"/mall/orders/{order_id}", "이미 취소한 주문입니다.")
    return pages.redirect(
        request,
        f"/mall/orders/{order_id}",
        "주문을 취소했습니다. {amount}을 돌려받았습니다 (캐시백 {cashback} 회수).",
        amount=pages.won(refund.get("amount", 0)),
        cashback=pages.won(refund.get("cashback_returned", 0)),
    )


@router.post("/mall/orders/{order_id}/delivered")
def confirm_delivery(request: Request, form: pages.Posted, order_id: str) -> Response:
    """받았어요: 발송된 주문을 배송 완료로."""
    me = _member(request)
    order_id, member_id = _code(order_id), me.member_id or ""
    _db(request).read(lambda c: views.order(c, order_id, member_id=member_id))  # or 404
    try:
        _db(request).run(
            lambda c: mall.deliver(c, order_id=order_id, member_id=member_id, at=now())
        )
    except errors.EumError as exc:
        return _order_page(
            request,
            me,
            order_id,
            status=exc.status,
            failed="delivered",
            **_form_error(request, exc),
        )
    return pages.redirect(request, f"/mall/orders/{order_id}", "받은 것으로 표시했습니다.")


# --- the shop's products ---------------------------------------------------------------------


def _products_page(
    request: Request, merchant_id: str, *, status: int = 200, **context: Any
) -> Response:
    cursor = request.query_params.get("cursor")
    after = _code(cursor) or None
    items, last = _db(request).read(
        lambda c: views.shop_products(c, merchant_id, SHOP_PRODUCTS_PAGE, after)
    )
    context.setdefault("failed", None)
    context.setdefault("form", {})
    return pages.render(
        request,
        "merchant/products.html",
        status=status,
        products=items,
        next_cursor=last,
        first_page=after is None,
        categories=names.CATEGORIES,
        photo_limit=_size(_photo_limit()),
        photo_types=", ".join(t.upper() for t in images.TYPES),
        **context,
    )


def _typed(form: dict[str, str]) -> dict[str, str]:
    """The product fields as typed, to show the form again."""
    keep = ("name", "price", "stock", "category", "description", "active")
    return {k: form.get(k, "")[: mall.DESCRIPTION_MAX] for k in keep}


def _product_fields(form: dict[str, str]) -> dict[str, Any]:
    """A product form's fields as the service takes them (the service checks them)."""
    return {
        "name": form.get("name", ""),
        "price": pages.amount(form.get("price"), "price"),
        "stock": _whole(form.get("stock"), "stock"),
        "category": (form.get("category") or "").strip() or None,
        "description": form.get("description") or None,
    }


def _active(text: str | None) -> bool:
    if text not in ("1", "0"):
        raise errors.InvalidRequest("active is 1 (on sale) or 0 (paused)", field="active")
    return text == "1"


@router.get("/shop/products")
def products_page(request: Request) -> Response:
    """온라인몰 상품: 등록(이름, 가격, 재고, 업종, 설명), 수정, 판매 중지, 사진."""
    _, merchant_id = _shop(request)
    return _products_page(request, merchant_id)


@router.post("/shop/products")
def add_product(request: Request, form: pages.Posted) -> Response:
    """상품 등록: 입점비·판매 수수료 없음 (결제대행 수수료 3%만)."""
    _, merchant_id = _shop(request)
    try:
        fields = _product_fields(form)
        made = _db(request).run(
            lambda c: mall.create_product(
                c,
                merchant_id=merchant_id,
                name=fields["name"],
                price_krw=fields["price"],
                stock=fields["stock"],
                category=fields["category"],
                description=fields["description"],
                at=now(),
            )
        )
    except errors.EumError as exc:
        return _products_page(
            request,
            merchant_id,
            status=exc.status,
            failed="new",
            form=_typed(form),
            **_form_error(request, exc),
        )
    return pages.redirect(request, f"/shop/products#p-{made['id']}", "상품을 등록했습니다.")


@router.post("/shop/products/{product_id}")
def change_product(request: Request, form: pages.Posted, product_id: str) -> Response:
    """상품 수정: 이름, 가격, 재고(새 수량), 업종, 설명, 판매 중/중지."""
    _, merchant_id = _shop(request)
    product_id = _code(product_id)
    _db(request).read(lambda c: views.own(c, merchant_id, product_id))  # its own, or 404
    try:
        fields = _product_fields(form)
        changes = {**fields, "active": _active(form.get("active"))}
        _db(request).run(
            lambda c: mall.change_product(
                c, merchant_id=merchant_id, product_id=product_id, changes=changes, at=now()
            )
        )
    except errors.EumError as exc:
        return _products_page(
            request,
            merchant_id,
            status=exc.status,
            failed=product_id,
            form=_typed(form),
            **_form_error(request, exc),
        )
    return pages.redirect(request, f"/shop/products#p-{product_id}", "상품을 고쳤습니다.")


async def _photo_of(request: Request, form: pages.Posted) -> bytes:
    """The photo file of a multipart form whose CSRF token was checked (``form``), read
    up to one byte over the limit (the photo check refuses more); empty without one."""
    raw = await request.form()  # parsed once, by ``form``: this is the same form
    upload = raw.get("image")
    if not isinstance(upload, UploadFile):
        return b""
    data: bytes = await upload.read(images.MAX_BYTES + 1)
    return data


Photo = Annotated[bytes, Depends(_photo_of)]


@router.post("/shop/products/{product_id}/image")
def product_photo(request: Request, photo: Photo, product_id: str) -> Response:
    """상품 사진 올리기 (PNG, JPEG, WebP): 파일의 첫 바이트로 종류를 확인합니다."""
    _, merchant_id = _shop(request)
    product_id = _code(product_id)
    db = _db(request)
    db.read(lambda c: views.own(c, merchant_id, product_id))  # its own, or 404
    try:
        kind = images.kind_of(photo)  # refused before anything is written
    except errors.EumError as exc:
        return _products_page(
            request,
            merchant_id,
            status=exc.status,
            failed=f"photo:{product_id}",
            **_form_error(request, exc),
        )
    name = images.save(photo, kind)
    db.run(lambda c: mall.set_image(c, merchant_id=merchant_id, product_id=product_id, name=name))
    return pages.redirect(request, f"/shop/products#p-{product_id}", "사진을 올렸습니다.")


# --- the shop's orders -----------------------------------------------------------------------


def _orders_page(
    request: Request,
    merchant_id: str,
    status_filter: str | None,
    *,
    status: int = 200,
    **context: Any,
) -> Response:
    after = _order_after(request.query_params.get("cursor"))
    items, last = _db(request).read(
        lambda c: views.orders_of(
            c, ORDERS_PAGE, after, merchant_id=merchant_id, status=status_filter
        )
    )
    context.setdefault("failed", None)
    return pages.render(
        request,
        "merchant/orders.html",
        status=status,
        orders=items,
        keys={o["id"]: {"cancel": money.new_key(), "refund": money.new_key()} for o in items},
        shown=status_filter or "",
        back="/shop/orders" + (f"?status={status_filter}" if status_filter else ""),
        next_cursor=_cursor(last),
        first_page=after is None,
        statuses=ORDER_STATUS,
        badges=ORDER_BADGE,
        **context,
    )


def _filter(status: str | None) -> str | None:
    return status if status in ORDER_STATUS else None


def _back(form: dict[str, str], order_id: str) -> str:
    """Back to the list the form was on (a filter of /shop/orders only), at the order."""
    back = form.get("back") or ""
    return (back if BACK.fullmatch(back) else "/shop/orders") + f"#o-{order_id}"


def _back_filter(form: dict[str, str]) -> str | None:
    back = form.get("back") or ""
    found = BACK.fullmatch(back)
    return found.group(2) if found else None


@router.get("/shop/orders")
def orders_page(
    request: Request,
    status: str | None = Query(None, max_length=20),
    cursor: str | None = Query(None, max_length=MAX_CURSOR),
) -> Response:
    """온라인 주문: 상태별로 보기, 발송(송장), 배송 완료, 취소, 부분 환불."""
    _, merchant_id = _shop(request)
    return _orders_page(request, merchant_id, _filter(status))


def _shop_order_action(
    request: Request, form: dict[str, str], order_id: str, what: str, act: Any
) -> Response:
    """Run ``act(merchant_id, order_id) -> message`` on the shop's own order (another's is
    a 404 page); a refusal shows the list again with the error at that order's form."""
    _, merchant_id = _shop(request)
    order_id = _code(order_id)
    _db(request).read(lambda c: views.order(c, order_id, merchant_id=merchant_id))  # or 404
    try:
        message, values = act(merchant_id, order_id)
    except errors.EumError as exc:
        return _orders_page(
            request,
            merchant_id,
            _back_filter(form),
            status=exc.status,
            failed={"order": order_id, "what": what, "amount": form.get("amount", "")[:20]},
            **_form_error(request, exc),
        )
    return pages.redirect(request, _back(form, order_id), message, **values)


@router.post("/shop/orders/{order_id}/ship")
def ship(request: Request, form: pages.Posted, order_id: str) -> Response:
    """발송: 송장 번호(선택)와 함께."""
    tracking = form.get("tracking") or None

    def act(merchant_id: str, oid: str) -> tuple[str, dict[str, Any]]:
        _db(request).run(
            lambda c: mall.ship(
                c, merchant_id=merchant_id, order_id=oid, tracking=tracking, at=now()
            )
        )
        return "발송했습니다.", {}

    return _shop_order_action(request, form, order_id, "ship", act)


@router.post("/shop/orders/{order_id}/delivered")
def delivered(request: Request, form: pages.Posted, order_id: str) -> Response:
    """배송 완료로 표시."""

    def act(merchant_id: str, oid: str) -> tuple[str, dict[str, Any]]:
        _db(request).run(lambda c: mall.deliver(c, order_id=oid, merchant_id=merchant_id, at=now()))
        return "배송 완료로 표시했습니다.", {}

    return _shop_order_action(request, form, order_id, "delivered", act)


@router.post("/shop/orders/{order_id}/cancel")
def cancel_order(request: Request, form: pages.Posted, order_id: str) -> Response:
    """가게가 주문 취소 (배송 완료 전, 키로 한 번만): 전액 환불, 재고 복구."""
    p, _ = _shop(request)

    def act(merchant_id: str, oid: str) -> tuple[str, dict[str, Any]]:
        done = money.once(
            request,
            p,
            form,
            "mall_shop_cancel",
            {"order": oid},
            lambda c, at: mall.cancel(c, order_id=oid, merchant_id=merchant_id, at=at),
        )
        if done.get("replayed"):
            return "이미 취소한 주문입니다.", {}
        refund = done.get("refund") or {}
        return "주문을 취소하고 {amount}을 환불했습니다.", {
            "amount": pages.won(refund.get("amount", 0))
        }

    return _shop_order_action(request, form, order_id, "cancel", act)


@router.post("/shop/orders/{order_id}/refund")
def refund(request: Request, form: pages.Posted, order_id: str) -> Response:
    """배송 완료된 주문의 부분(또는 전액) 환불 (키로 한 번만, SPEC 3.9)."""
    p, _ = _shop(request)

    def act(merchant_id: str, oid: str) -> tuple[str, dict[str, Any]]:
        amount = pages.amount(form.get("amount"))
        done = money.once(
            request,
            p,
            form,
            "mall_refund",
            {"order": oid, "amount": amount},
            lambda c, at: mall.refund(
                c, merchant_id=merchant_id, order_id=oid, amount_krw=amount, at=at
            ),
        )
        message = (
            "이미 처리된 환불입니다: {amount}."
            if done.get("replayed")
            else "{amount}을 환불했습니다."
        )
        return message, {"amount": pages.won(amount)}

    return _shop_order_action(request, form, order_id, "refund", act)


i18n.register(
    {
        # the mall's menu and browsing
        "온라인몰 메뉴": "Mall menu",
        "인천e몰": "Incheon e-Mall",
        "우리 동네 가게의 상품을 지역화폐로 삽니다. 입점비와 판매 수수료가 없습니다.": (
            "Buy from local shops with local money. Shops pay no listing fee or commission."
        ),
        "상품 검색": "Search products",
        "상품 이름이나 설명": "product name or description",
        "상품이 없습니다.": "No products found.",
        "품절": "Sold out",
        "남은 수량 {n}개": "{n} left",
        "캐시백 {rate}": "{rate} cashback",
        "첫 페이지": "First page",
        "사진 없음": "No photo",
        # a product
        "남은 재고": "In stock",
        "내 카드로 받는 캐시백 (온라인 결제)": "Cashback with your card (online payment)",
        "1개를 사면": "Buying one",
        "지갑에서 나갈 금액": "Paid from your wallet",
        "받을 캐시백 (예상)": "Expected cashback",
        "이 가게의 온라인 결제에는 내 카드의 캐시백이 없습니다.": (
            "Your card earns no cashback on this shop's online payments."
        ),
        "수량": "Quantity",
        "담기": "Add to cart",
        "장바구니에 {n}개 있습니다.": "{n} already in your cart.",
        "로그인하고 담기": "Sign in to buy",
        "시민 회원만 살 수 있습니다.": "Only citizen members can buy.",
        "장바구니에 담았습니다.": "Added to your cart.",
        "장바구니 보기": "View cart",
        # the cart
        "장바구니가 비어 있습니다.": "Your cart is empty.",
        "상품 둘러보기": "Browse products",
        "바꾸기": "Update",
        "빼기": "Remove",
        "판매 중지": "Paused",
        "재고 {n}개": "{n} in stock",
        "혜택플러스 선할인": "Benefit Plus discount",
        "가게별 합계": "Shop subtotal",
        "총액 (정가)": "Total (list price)",
        "결제할 금액": "To pay from your wallet",
        "쓸 수 있는 잔액": "Available balance",
        "잔액이 모자랍니다.": "Your balance is not enough.",
        "충전하기": "Charge",
        "가게마다 주문이 하나씩 만들어지고, 모두 결제되거나 하나도 결제되지 않습니다.": (
            "Each shop gets its own order; all of them are paid or none."
        ),
        "예상 캐시백은 가게별로 따로 계산한 값입니다. 여러 가게를 한 번에 결제하면 한도와 "
        "예산에 따라 달라질 수 있습니다.": (
            "Expected cashback is worked out per shop; paying several shops at once may "
            "change it through caps and budgets."
        ),
        "결제하기": "Pay",
        "수량을 바꿨습니다.": "Quantity updated.",
        "장바구니에서 뺐습니다.": "Removed from your cart.",
        OUT_OF_STOCK: "Not enough stock: {name} ({stock} left)",
        NOT_ON_SALE: "A product is no longer on sale: {name}",
        # receipt and orders
        "주문 영수증": "Order receipt",
        "주문 번호": "Order no.",
        "결제 금액": "Amount",
        "지갑에서 나간 금액": "Paid from your wallet",
        "그중 캐시백에서": "of which from cashback",
        "받은 캐시백": "Cashback earned",
        "캐시백 합계": "Total cashback",
        "합계": "Total",
        "주문 보기": "View order",
        "결제 완료": "Paid",
        "발송": "Shipped",
        "배송 완료": "Delivered",
        "취소": "Cancelled",
        "주문일": "Ordered",
        "발송일": "Shipped on",
        "배송 완료일": "Delivered on",
        "취소일": "Cancelled on",
        "배송지": "Ship to",
        "예: 인천 계양구 계산동 123, 101호": "e.g. 123 Gyesan-dong, Gyeyang-gu, Incheon, No. 101",
        "송장 번호": "Tracking no.",
        "환불된 금액": "Refunded",
        "주문 취소": "Cancel order",
        "발송 전에는 취소할 수 있습니다. 결제한 금액은 모두 돌려받고, 받은 캐시백은 회수됩니다.": (
            "You can cancel until it ships: the whole payment comes back and the cashback "
            "it earned is taken back."
        ),
        "받았어요": "It arrived",
        "주문이 없습니다.": "No orders yet.",
        "이전 주문 더 보기": "Older orders",
        "주문을 취소했습니다. {amount}을 돌려받았습니다 (캐시백 {cashback} 회수).": (
            "Order cancelled. {amount} came back to you ({cashback} of cashback taken back)."
        ),
        "이미 취소한 주문입니다.": "This order was already cancelled.",
        "받은 것으로 표시했습니다.": "Marked as received.",
        # the shop's products
        "상품 등록": "Add a product",
        "이름": "Name",
        "가격 (원)": "Price (won)",
        "재고": "Stock",
        "개": "pcs",
        "설명": "Description",
        "선택": "optional",
        "업종 없음": "No category",
        "등록하기": "Add",
        "판매 상태": "Status",
        "판매 중": "On sale",
        "고치기": "Edit",
        "저장": "Save",
        "사진": "Photo",
        "사진 올리기": "Upload photo",
        "{types} 파일, {limit}까지": "{types}, up to {limit}",
        "상품 페이지": "Product page",
        "등록한 상품이 없습니다.": "No products yet.",
        "더 보기": "More",
        "입점비와 판매 수수료가 없습니다. 온라인 결제의 결제대행 수수료 3%만 있습니다.": (
            "No listing fee and no commission: only the 3% gateway fee of online payments."
        ),
        "상품을 등록했습니다.": "Product added.",
        "상품을 고쳤습니다.": "Product updated.",
        "사진을 올렸습니다.": "Photo uploaded.",
        # the shop's orders
        "모두": "All",
        "정가": "List price",
        "할인": "Discount",
        "환불한 금액": "Refunded",
        "송장 번호 (선택)": "Tracking no. (optional)",
        "발송하기": "Ship",
        "배송 완료로 표시": "Mark delivered",
        "주문 취소·전액 환불": "Cancel and refund in full",
        "환불 금액": "Refund amount",
        "남은 금액이 채워져 있습니다. 일부만 환불하려면 금액을 바꾸세요.": (
            "Filled with what is left; change it for a partial refund."
        ),
        "환불하기": "Refund",
        "발송했습니다.": "Shipped.",
        "배송 완료로 표시했습니다.": "Marked as delivered.",
        "주문을 취소하고 {amount}을 환불했습니다.": "Order cancelled; refunded {amount}.",
        "{amount}을 환불했습니다.": "Refunded {amount}.",
        "이미 처리된 환불입니다: {amount}.": "This refund was already made: {amount}.",
        "이 상태의 주문이 없습니다.": "No orders in this state.",
    }
)
i18n.register(
    {
        FIELD_HINTS[field]: english
        for field, english in {
            "quantity": "Enter a quantity from 1 to 99.",
            "stock": "Enter a stock from 0 to 1,000,000.",
            "price": "Enter a price from 1 to 100,000,000 won.",
            "name": "Enter a product name of up to 200 characters.",
            "description": "A description has up to 4,000 characters.",
            "category": "A category has up to 64 characters.",
            "active": "Choose whether it is on sale.",
            "tracking": "A tracking number has up to 200 characters.",
            "image": "A photo is a PNG, JPEG or WebP file of up to {limit}.",
        }.items()
    }
)
