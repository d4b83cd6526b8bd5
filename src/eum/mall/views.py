"""The mall as people read it: products on sale, a shop's products, orders."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import Connection, or_, select

from eum import errors
from eum.mall import service as mall
from eum.mall.store import order_items, orders, products
from eum.merchants.store import merchants
from eum.payments.store import payments


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def browse(
    conn: Connection,
    *,
    q: str | None,
    category: str | None,
    district: str | None,
    merchant: str | None,
    limit: int,
    after: str | None,
) -> tuple[list[dict[str, Any]], str | None]:
    """Products on sale, by name then id; ``after`` is the last one's ``name\\x1fid``."""
    query = (
        select(products, merchants.c.name.label("merchant_name"), merchants.c.district)
        .join(merchants, merchants.c.id == products.c.merchant_id)
        .where(
            products.c.active.is_(True),
            merchants.c.active.is_(True),
            merchants.c.status == "approved",
        )
    )
    if q:
        pattern = _like(q.strip())
        query = query.where(
            or_(products.c.name.like(pattern, escape="\\"),
                products.c.description.like(pattern, escape="\\"))
        )  # fmt: skip
    if category:
        query = query.where(products.c.category == category)
    if district:
        query = query.where(merchants.c.district == district)
    if merchant:
        query = query.where(products.c.merchant_id == merchant)
    if after:
        name, _, last_id = after.partition("\x1f")
        query = query.where(
            or_(products.c.name > name, (products.c.name == name) & (products.c.id > last_id))
        )
    rows = conn.execute(query.order_by(products.c.name, products.c.id).limit(limit + 1)).all()
    page = rows[:limit]
    items = [_on_sale(r) for r in page]
    more = len(rows) > limit
    return items, (f"{page[-1].name}\x1f{page[-1].id}" if more and page else None)


def _on_sale(r: Any) -> dict[str, Any]:
    return {
        **mall.product_view(r),
        "merchant_name": r.merchant_name,
        "district": r.district,
    }


def product(conn: Connection, product_id: str) -> dict[str, Any]:
    return _on_sale(mall.on_sale(conn, product_id))


def image_name(conn: Connection, product_id: str) -> str | None:
    row = conn.execute(select(products.c.image).where(products.c.id == product_id)).first()
    if row is None:
        raise errors.UnknownProduct(field="product")
    return row.image  # type: ignore[no-any-return]


def own(conn: Connection, merchant_id: str, product_id: str) -> None:
    mall.own_product(conn, merchant_id, product_id)


def shop_products(
    conn: Connection, merchant_id: str, limit: int, after: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    query = select(products).where(products.c.merchant_id == merchant_id)
    if after:
        query = query.where(products.c.id > after)
    rows = conn.execute(query.order_by(products.c.id).limit(limit + 1)).all()
    page = rows[:limit]
    return [mall.product_view(r) for r in page], (page[-1].id if len(rows) > limit else None)


def orders_of(
    conn: Connection,
    limit: int,
    after: str | None,
    *,
    member_id: str | None = None,
    merchant_id: str | None = None,
    status: str | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    """A buyer's or a shop's orders, newest first (by time, then id)."""
    query = (
        select(
            orders,
            payments.c.discount,
            payments.c.refunded.label("payment_refunded"),
            payments.c.fee,
            merchants.c.name.label("merchant_name"),
        )
        .join(payments, payments.c.id == orders.c.payment_id)
        .join(merchants, merchants.c.id == orders.c.merchant_id)
    )
    if member_id is not None:
        query = query.where(orders.c.member_id == member_id)
    if merchant_id is not None:
        query = query.where(orders.c.merchant_id == merchant_id)
    if status is not None:
        query = query.where(orders.c.status == status)
    if after:
        at_text, _, last_id = after.partition("\x1f")
        from eum.clock import parse_time

        at = parse_time(at_text)
        query = query.where(
            or_(orders.c.created_at < at, (orders.c.created_at == at) & (orders.c.id < last_id))
        )
    rows = conn.execute(
        query.order_by(orders.c.created_at.desc(), orders.c.id.desc()).limit(limit + 1)
    ).all()
    page = rows[:limit]
    items_of: dict[str, list[dict[str, Any]]] = defaultdict(list)
    if page:
        for i in conn.execute(
            select(order_items)
            .where(order_items.c.order_id.in_([r.id for r in page]))
            .order_by(order_items.c.name)
        ):
            items_of[i.order_id].append(
                {"product": i.product_id, "name": i.name, "price": int(i.price),
                 "quantity": int(i.quantity)}
            )  # fmt: skip
    out = [mall.order_row_view(r, items_of[r.id]) for r in page]
    last = None
    if len(rows) > limit and page:
        last = f"{out[-1]['created_at']}\x1f{page[-1].id}"
    return out, last


def last_ship_to(conn: Connection, member_id: str) -> str | None:
    """Where the member's last order went: the cart offers it again."""
    row = conn.execute(
        select(orders.c.ship_to)
        .where(orders.c.member_id == member_id)
        .order_by(orders.c.created_at.desc(), orders.c.id.desc())
        .limit(1)
    ).first()
    return None if row is None else str(row.ship_to)


def order(
    conn: Connection, order_id: str, *, member_id: str | None = None, merchant_id: str | None = None
) -> dict[str, Any]:
    row = mall.find_order(conn, order_id, member_id=member_id, merchant_id=merchant_id)
    return mall.order_view(conn, row.id)


def checkout_orders(conn: Connection, checkout_id: str, member_id: str) -> list[dict[str, Any]]:
    """The orders one checkout of the member's made, by shop (another's look missing):
    what its receipt page lists."""
    ids = [
        r.id
        for r in conn.execute(
            select(orders.c.id)
            .where(orders.c.checkout_id == checkout_id, orders.c.member_id == member_id)
            .order_by(orders.c.merchant_id, orders.c.id)
        )
    ]
    if not ids:
        raise errors.UnknownOrder(field="checkout")
    return [mall.order_view(conn, order_id) for order_id in ids]


def photos(conn: Connection, product_ids: list[str]) -> dict[str, str]:
    """The photo address of each of these products that has one (for thumbnails)."""
    if not product_ids:
        return {}
    rows = conn.execute(
        select(products.c.id, products.c.image).where(
            products.c.id.in_(sorted(set(product_ids))), products.c.image.is_not(None)
        )
    )
    return {r.id: f"/api/v1/mall/products/{r.id}/image" for r in rows}
