"""The online mall (인천e몰): products anyone can browse, a member's cart and checkout,
orders for the buyer and for the shop. Checkout and cancellations move money: they carry
an Idempotency-Key like every money request, and pay and refund through the same pay and
refund services as the rest of the API (channel ``online``: the 3% gateway fee)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, JSONResponse, Response
from pydantic import Field, StrictBool, StrictInt

from eum.api.deps import (
    DB,
    MAX_PAGE,
    MONEY,
    IdemKey,
    Member,
    MerchantOwner,
    Page,
    decode_cursor,
    encode_cursor,
    money_call,
)
from eum.api.schemas import Body, Name, Won
from eum.clock import now
from eum.mall import images, views
from eum.mall import service as mall

router = APIRouter(prefix="/api/v1", tags=["mall"])

ProductId = Annotated[str, Path(min_length=1, max_length=64)]
OrderId = Annotated[str, Path(min_length=1, max_length=64)]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE)]
Cursor = Annotated[str | None, Query(max_length=200)]
Text64 = Annotated[str | None, Query(max_length=64)]
Stock = Annotated[StrictInt, Field(ge=0, le=mall.MAX_STOCK)]
Description = Annotated[str, Field(max_length=mall.DESCRIPTION_MAX)]
Category = Annotated[str, Field(max_length=64)]


class ProductIn(Body):
    name: Name
    price: Won
    stock: Stock
    description: Description | None = None
    category: Category | None = None


class ProductChangeIn(Body):
    name: Name | None = None
    price: Won | None = None
    stock: Stock | None = None
    description: Description | None = None
    category: Category | None = None
    active: StrictBool | None = None


class CartLineIn(Body):
    quantity: Annotated[StrictInt, Field(ge=0, le=mall.MAX_QUANTITY, description="0은 빼기")]


class CheckoutIn(Body):
    ship_to: Annotated[str, Field(min_length=1, max_length=300, description="배송지 주소")]


class ShipIn(Body):
    tracking: Annotated[str, Field(max_length=200)] | None = None


class OrderRefundIn(Body):
    amount: Won


def _page(items: list[dict[str, Any]], last: str | None) -> Page:
    return Page(items=items, next_cursor=None if last is None else encode_cursor(last))


# --- browsing -----------------------------------------------------------------------------


@router.get("/mall/products", response_model=Page)
def browse(
    db: DB,
    q: Annotated[str | None, Query(max_length=100, description="이름·설명 검색")] = None,
    category: Text64 = None,
    district: Text64 = None,
    merchant: Text64 = None,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> Page:
    """온라인몰 상품 (판매 중, 승인된 가맹점): 이름순."""
    after = decode_cursor(cursor)
    items, last = db.read(
        lambda c: views.browse(
            c,
            q=q,
            category=category,
            district=district,
            merchant=merchant,
            limit=limit,
            after=after,
        )
    )
    return _page(items, last)


@router.get("/mall/products/{product_id}")
def product(product_id: ProductId, db: DB) -> dict[str, Any]:
    return db.read(lambda c: views.product(c, product_id))


@router.get("/mall/products/{product_id}/image", response_class=Response)
def product_image(product_id: ProductId, db: DB) -> Response:
    """상품 사진 (가게가 올린 파일)."""
    name = db.read(lambda c: views.image_name(c, product_id))
    path = images.path_of(name)
    return FileResponse(path, media_type=images.media_type(name), headers=images.CACHE)


# --- the shop's products -------------------------------------------------------------------


@router.get("/me/products", response_model=Page)
def my_products(db: DB, me: MerchantOwner, limit: Limit = 50, cursor: Cursor = None) -> Page:
    assert me.merchant_id is not None
    merchant_id = me.merchant_id
    after = decode_cursor(cursor)
    items, last = db.read(lambda c: views.shop_products(c, merchant_id, limit, after))
    return _page(items, last)


@router.post("/me/products", status_code=201)
def add_product(body: ProductIn, db: DB, me: MerchantOwner) -> dict[str, Any]:
    """상품 등록: 입점비·판매 수수료 없음 (결제대행 수수료 3%만)."""
    assert me.merchant_id is not None
    merchant_id = me.merchant_id
    return db.run(
        lambda c: mall.create_product(
            c,
            merchant_id=merchant_id,
            name=body.name,
            price_krw=body.price,
            stock=body.stock,
            description=body.description,
            category=body.category,
            at=now(),
        )
    )


@router.patch("/me/products/{product_id}")
def change_product(
    product_id: ProductId, body: ProductChangeIn, db: DB, me: MerchantOwner
) -> dict[str, Any]:
    """상품 수정 (재고는 새 수량으로 설정)."""
    assert me.merchant_id is not None
    merchant_id = me.merchant_id
    changes = body.model_dump(exclude_unset=True)
    return db.run(
        lambda c: mall.change_product(
            c, merchant_id=merchant_id, product_id=product_id, changes=changes, at=now()
        )
    )


@router.put("/me/products/{product_id}/image", status_code=204, response_class=Response)
async def put_image(product_id: ProductId, request: Request, db: DB, me: MerchantOwner) -> Response:
    """상품 사진 올리기: 요청 본문이 PNG, JPEG 또는 WebP 파일 그대로 (1 MB까지)."""
    assert me.merchant_id is not None
    merchant_id = me.merchant_id
    data = await request.body()

    def store() -> None:  # in a worker thread: database and disk
        db.read(lambda c: views.own(c, merchant_id, product_id))  # its own product, or 404
        name = images.save(data, images.kind_of(data))
        db.run(
            lambda c: mall.set_image(c, merchant_id=merchant_id, product_id=product_id, name=name)
        )

    await run_in_threadpool(store)
    return Response(status_code=204)


# --- the member's cart and orders ----------------------------------------------------------


@router.get("/me/cart")
def my_cart(db: DB, me: Member) -> dict[str, Any]:
    assert me.member_id is not None
    member_id = me.member_id
    return db.read(lambda c: mall.cart(c, member_id))


@router.put("/me/cart/{product_id}")
def put_cart_line(product_id: ProductId, body: CartLineIn, db: DB, me: Member) -> dict[str, Any]:
    """장바구니에 담기 (수량 지정, 0이면 빼기)."""
    assert me.member_id is not None
    member_id = me.member_id

    def unit(c: Any) -> dict[str, Any]:
        mall.set_cart_line(
            c, member_id=member_id, product_id=product_id, quantity=body.quantity, at=now()
        )
        return mall.cart(c, member_id)

    return db.run(unit)


@router.delete("/me/cart", status_code=204, response_class=Response)
def empty_cart(db: DB, me: Member) -> Response:
    assert me.member_id is not None
    member_id = me.member_id
    db.run(lambda c: mall.clear_cart(c, member_id=member_id))
    return Response(status_code=204)


@router.post("/me/checkout", status_code=201, responses=MONEY)
def checkout(body: CheckoutIn, request: Request, db: DB, me: Member, key: IdemKey) -> JSONResponse:
    """장바구니 결제: 가게마다 주문 하나, 모두 결제되거나 하나도 결제되지 않습니다 (채널 online)."""
    assert me.member_id is not None
    member_id = me.member_id
    return money_call(
        db,
        me,
        key,
        request,
        body,
        lambda c, at: mall.checkout(c, member_id=member_id, at=at, ship_to=body.ship_to),
    )


@router.get("/me/orders", response_model=Page)
def my_orders(db: DB, me: Member, limit: Limit = 20, cursor: Cursor = None) -> Page:
    assert me.member_id is not None
    member_id = me.member_id
    after = decode_cursor(cursor)
    items, last = db.read(lambda c: views.orders_of(c, limit, after, member_id=member_id))
    return _page(items, last)


@router.get("/me/orders/{order_id}")
def my_order(order_id: OrderId, db: DB, me: Member) -> dict[str, Any]:
    assert me.member_id is not None
    member_id = me.member_id
    return db.read(lambda c: views.order(c, order_id, member_id=member_id))


@router.post("/me/orders/{order_id}/cancel", responses=MONEY)
def cancel_my_order(
    order_id: OrderId, request: Request, db: DB, me: Member, key: IdemKey
) -> JSONResponse:
    """주문 취소 (발송 전): 전액 환불, 캐시백 회수, 재고 복구."""
    assert me.member_id is not None
    member_id = me.member_id
    return money_call(
        db, me, key, request, None,
        lambda c, at: mall.cancel(c, order_id=order_id, member_id=member_id, at=at),
        status=200,
    )  # fmt: skip


@router.post("/me/orders/{order_id}/delivered")
def confirm_delivery(order_id: OrderId, db: DB, me: Member) -> dict[str, Any]:
    """받았음 확인."""
    assert me.member_id is not None
    member_id = me.member_id
    return db.run(lambda c: mall.deliver(c, order_id=order_id, member_id=member_id, at=now()))


# --- the shop's orders ---------------------------------------------------------------------


@router.get("/shop/orders", response_model=Page)
def shop_orders(
    db: DB,
    me: MerchantOwner,
    status: Annotated[str | None, Query(pattern="^(paid|shipped|delivered|cancelled)$")] = None,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> Page:
    assert me.merchant_id is not None
    merchant_id = me.merchant_id
    after = decode_cursor(cursor)
    items, last = db.read(
        lambda c: views.orders_of(c, limit, after, merchant_id=merchant_id, status=status)
    )
    return _page(items, last)


@router.get("/shop/orders/{order_id}")
def shop_order(order_id: OrderId, db: DB, me: MerchantOwner) -> dict[str, Any]:
    assert me.merchant_id is not None
    merchant_id = me.merchant_id
    return db.read(lambda c: views.order(c, order_id, merchant_id=merchant_id))


@router.post("/shop/orders/{order_id}/ship")
def ship(order_id: OrderId, body: ShipIn, db: DB, me: MerchantOwner) -> dict[str, Any]:
    """발송 (송장 번호 선택)."""
    assert me.merchant_id is not None
    merchant_id = me.merchant_id
    return db.run(
        lambda c: mall.ship(
            c, merchant_id=merchant_id, order_id=order_id, tracking=body.tracking, at=now()
        )
    )


@router.post("/shop/orders/{order_id}/delivered")
def delivered(order_id: OrderId, db: DB, me: MerchantOwner) -> dict[str, Any]:
    assert me.merchant_id is not None
    merchant_id = me.merchant_id
    return db.run(lambda c: mall.deliver(c, order_id=order_id, merchant_id=merchant_id, at=now()))


@router.post("/shop/orders/{order_id}/cancel", responses=MONEY)
def cancel_shop_order(
    order_id: OrderId, request: Request, db: DB, me: MerchantOwner, key: IdemKey
) -> JSONResponse:
    """가게가 주문 취소 (배송 완료 전): 전액 환불, 재고 복구."""
    assert me.merchant_id is not None
    merchant_id = me.merchant_id
    return money_call(
        db, me, key, request, None,
        lambda c, at: mall.cancel(c, order_id=order_id, merchant_id=merchant_id, at=at),
        status=200,
    )  # fmt: skip


@router.post("/shop/orders/{order_id}/refunds", status_code=201, responses=MONEY)
def refund_order(
    order_id: OrderId, body: OrderRefundIn, request: Request, db: DB, me: MerchantOwner,
    key: IdemKey,
) -> JSONResponse:  # fmt: skip
    """배송 완료된 주문의 부분(또는 전액) 환불 (SPEC 3.9)."""
    assert me.merchant_id is not None
    merchant_id = me.merchant_id
    return money_call(
        db, me, key, request, body,
        lambda c, at: mall.refund(
            c, merchant_id=merchant_id, order_id=order_id, amount_krw=body.amount, at=at
        ),
    )  # fmt: skip
