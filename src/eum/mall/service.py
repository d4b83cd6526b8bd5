"""The online mall: products, carts, checkout and orders, on the same payments and ledger.

A checkout pays for the cart in one transaction: one order per shop, each paid by the
pay service with channel ``online`` (so the 3% gateway fee, discounts, cashback rules and
budgets apply exactly as in SPEC 3.6-3.8). Every order is paid or none is: a payment
that fails (insufficient_funds, a shop gone inactive...) rolls back the whole checkout,
stock included. Stock is taken under the product rows' locks, in id order, and a CHECK
keeps it from going below zero, so buyers racing for the last item get one order per
unit and ``out_of_stock`` for the rest.

Orders move paid -> shipped -> delivered, or to cancelled with a full refund (the refund
service gives back money and takes back cashback as SPEC 3.9 says) and the stock put
back; a delivered order can be refunded in part or in full (goods are not restocked).
"""

from __future__ import annotations

import re
import secrets
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from eum import errors
from eum.ledger import service as ledger
from eum.mall.store import cart_items, order_items, orders, products
from eum.merchants import service as merchants
from eum.merchants.store import merchants as merchant_rows
from eum.money.rules import is_valid_amount
from eum.payments import service as payments
from eum.payments.store import payments as payment_rows
from eum.policy import service as policy
from eum.wallets import service as wallets

MAX_QUANTITY = 99  # of one product in one cart
MAX_CART_LINES = 30
MAX_STOCK = 1_000_000
MAX_PRICE_KRW = 100_000_000
NAME_MAX, DESCRIPTION_MAX, SHIP_TO_MAX = 200, 4_000, 300
STATUSES = ("paid", "shipped", "delivered", "cancelled")
CATEGORY = re.compile(r"^[a-z][a-z_]{0,31}$")


def _new_id(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(6)}"


def _text(value: object, field: str, limit: int, *, required: bool) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise errors.InvalidRequest(f"{field} is required", field=field)
        return None
    if not isinstance(value, str) or len(value.strip()) > limit:
        raise errors.InvalidRequest(f"{field}: at most {limit} characters", field=field)
    return value.strip()


def _count(value: object, field: str, top: int, *, low: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= top:
        raise errors.InvalidRequest(f"{field} must be a whole number {low}..{top}", field=field)
    return value


def _category(value: object) -> str | None:
    """A merchant category code (``food``, ``cafe``...: lower-case letters and _)."""
    text = _text(value, "category", 32, required=False)
    if text is not None and not CATEGORY.match(text):
        raise errors.InvalidRequest("category is a code like food or cafe", field="category")
    return text


def _price(value: object) -> int:
    if not is_valid_amount(value) or not isinstance(value, int) or value > MAX_PRICE_KRW:
        raise errors.InvalidAmount(field="price")
    return value


# --- products ----------------------------------------------------------------------------


def create_product(
    conn: Connection,
    *,
    merchant_id: str,
    name: object,
    price_krw: object,
    stock: object,
    at: datetime,
    description: object = None,
    category: object = None,
) -> dict[str, Any]:
    """A merchant lists a product (no listing fee, no commission: only the gateway fee
    of its online payments)."""
    merchants.find_merchant(conn, merchant_id)
    values = {
        "id": _new_id("prd"),
        "merchant_id": merchant_id,
        "name": _text(name, "name", NAME_MAX, required=True),
        "description": _text(description, "description", DESCRIPTION_MAX, required=False),
        "price": _price(price_krw),
        "stock": _count(stock, "stock", MAX_STOCK),
        "category": _category(category),
        "active": True,
        "created_at": at,
        "updated_at": at,
    }
    conn.execute(insert(products).values(**values))
    return product_view(conn.execute(select(products).where(products.c.id == values["id"])).one())


def own_product(conn: Connection, merchant_id: str, product_id: object) -> Any:
    row = None
    if isinstance(product_id, str):
        row = conn.execute(
            select(products).where(
                products.c.id == product_id, products.c.merchant_id == merchant_id
            )
        ).first()
    if row is None:
        raise errors.UnknownProduct(field="product")
    return row


CHANGEABLE = ("name", "description", "price", "stock", "category", "active")


def change_product(
    conn: Connection, *, merchant_id: str, product_id: object, changes: dict[str, Any], at: datetime
) -> dict[str, Any]:
    """Change a product's fields (those given); stock is set, not added."""
    row = own_product(conn, merchant_id, product_id)
    values: dict[str, Any] = {}
    for name, value in changes.items():
        if name not in CHANGEABLE:
            raise errors.InvalidRequest(f"{name} cannot be changed", field=name)
        if name == "name":
            values[name] = _text(value, "name", NAME_MAX, required=True)
        elif name == "description":
            values[name] = _text(value, "description", DESCRIPTION_MAX, required=False)
        elif name == "category":
            values[name] = _category(value)
        elif name == "price":
            values[name] = _price(value)
        elif name == "stock":
            values[name] = _count(value, "stock", MAX_STOCK)
        elif name == "active":
            if not isinstance(value, bool):
                raise errors.InvalidRequest("active is true or false", field="active")
            values[name] = value
    if values:
        conn.execute(
            update(products).where(products.c.id == row.id).values(**values, updated_at=at)
        )
    return product_view(conn.execute(select(products).where(products.c.id == row.id)).one())


def set_image(conn: Connection, *, merchant_id: str, product_id: object, name: str | None) -> None:
    row = own_product(conn, merchant_id, product_id)
    conn.execute(update(products).where(products.c.id == row.id).values(image=name))


def product_view(row: Any, merchant: Any = None) -> dict[str, Any]:
    out = {
        "id": row.id,
        "merchant": row.merchant_id,
        "name": row.name,
        "description": row.description,
        "price": int(row.price),
        "stock": int(row.stock),
        "category": row.category,
        "image": f"/api/v1/mall/products/{row.id}/image" if row.image else None,
        "active": bool(row.active),
    }
    if merchant is not None:
        out["merchant_name"] = merchant.name
        out["district"] = merchant.district
    return out


def on_sale(conn: Connection, product_id: object) -> Any:
    """A product a citizen can buy: active, at an approved, active merchant."""
    row = None
    if isinstance(product_id, str):
        row = conn.execute(
            select(products, merchant_rows.c.name.label("merchant_name"), merchant_rows.c.district)
            .join(merchant_rows, merchant_rows.c.id == products.c.merchant_id)
            .where(
                products.c.id == product_id,
                products.c.active.is_(True),
                merchant_rows.c.active.is_(True),
                merchant_rows.c.status == "approved",
            )
        ).first()
    if row is None:
        raise errors.UnknownProduct(field="product")
    return row


# --- cart ----------------------------------------------------------------------------------


def set_cart_line(
    conn: Connection, *, member_id: str, product_id: object, quantity: object, at: datetime
) -> None:
    """Put ``quantity`` of a product in the member's cart (0 takes it out)."""
    wallets.find_member(conn, member_id)
    qty = _count(quantity, "quantity", MAX_QUANTITY)
    key = (cart_items.c.member_id == member_id) & (cart_items.c.product_id == product_id)
    if qty == 0:
        conn.execute(delete(cart_items).where(key))
        return
    on_sale(conn, product_id)
    if conn.execute(select(cart_items.c.quantity).where(key)).first() is not None:
        conn.execute(update(cart_items).where(key).values(quantity=qty))
        return
    lines = conn.execute(
        select(cart_items.c.product_id).where(cart_items.c.member_id == member_id)
    ).all()
    if len(lines) >= MAX_CART_LINES:
        raise errors.InvalidRequest(f"at most {MAX_CART_LINES} products", field="product")
    conn.execute(
        insert(cart_items).values(
            member_id=member_id, product_id=product_id, quantity=qty, added_at=at
        )
    )


def clear_cart(conn: Connection, *, member_id: str) -> None:
    conn.execute(delete(cart_items).where(cart_items.c.member_id == member_id))


def cart(conn: Connection, member_id: str) -> dict[str, Any]:
    """The cart by shop, with what each shop's part costs at list price and whether the
    stock is there today (checkout checks again, under lock)."""
    rows = conn.execute(
        select(
            cart_items.c.product_id,
            cart_items.c.quantity,
            products.c.name,
            products.c.price,
            products.c.stock,
            products.c.active,
            products.c.merchant_id,
            merchant_rows.c.name.label("merchant_name"),
            merchant_rows.c.tier,
            merchant_rows.c.discount_bps,
        )
        .join(products, products.c.id == cart_items.c.product_id)
        .join(merchant_rows, merchant_rows.c.id == products.c.merchant_id)
        .where(cart_items.c.member_id == member_id)
        .order_by(products.c.merchant_id, products.c.name, cart_items.c.product_id)
    ).all()
    shops: dict[str, dict[str, Any]] = {}
    for r in rows:
        shop = shops.setdefault(
            r.merchant_id,
            {"merchant": r.merchant_id, "merchant_name": r.merchant_name, "lines": [], "amount": 0},
        )
        line_total = int(r.price) * int(r.quantity)
        shop["lines"].append(
            {
                "product": r.product_id,
                "name": r.name,
                "price": int(r.price),
                "quantity": int(r.quantity),
                "amount": line_total,
                "available": bool(r.active) and int(r.stock) >= int(r.quantity),
                "stock": int(r.stock),
            }
        )
        shop["amount"] += line_total
    parts = list(shops.values())
    return {"shops": parts, "amount": sum(s["amount"] for s in parts)}


# --- checkout ------------------------------------------------------------------------------


def checkout(conn: Connection, *, member_id: str, at: datetime, ship_to: object) -> dict[str, Any]:
    """Pay for the whole cart: one order per shop, all paid or none (see the module).

    It runs in a savepoint: a shop's payment that fails after an earlier shop's was
    booked undoes the earlier one too, also when the caller's transaction goes on to
    store the error under the request's idempotency key."""
    address = _text(ship_to, "ship_to", SHIP_TO_MAX, required=True)
    with conn.begin_nested():
        return _checkout(conn, member_id, at, address)


def _checkout(conn: Connection, member_id: str, at: datetime, ship_to: Any) -> dict[str, Any]:
    member = wallets.find_member(conn, member_id)
    wanted = {
        r.product_id: int(r.quantity)
        for r in conn.execute(select(cart_items).where(cart_items.c.member_id == member_id))
    }
    if not wanted:
        raise errors.CartEmpty(field="cart")
    locked = {
        r.id: r
        for r in conn.execute(
            select(products)
            .where(products.c.id.in_(sorted(wanted)))
            .order_by(products.c.id)
            .with_for_update()
        )
    }
    by_shop: dict[str, list[tuple[Any, int]]] = defaultdict(list)
    for product_id in sorted(wanted):
        row = locked.get(product_id)
        if row is None or not row.active:
            raise errors.UnknownProduct(f"{product_id} is not on sale", field=f"cart.{product_id}")
        if int(row.stock) < wanted[product_id]:
            raise errors.OutOfStock(f"{row.name}: {row.stock} left", field=f"cart.{product_id}")
        by_shop[row.merchant_id].append((row, wanted[product_id]))
    for product_id in sorted(wanted):  # the CHECK (stock >= 0) stands behind this
        conn.execute(
            update(products)
            .where(products.c.id == product_id)
            .values(stock=products.c.stock - wanted[product_id], updated_at=at)
        )
    _lock_accounts(conn, member, by_shop)
    checkout_id = _new_id("chk")
    made = []
    for merchant_id in sorted(by_shop):
        items = by_shop[merchant_id]
        amount = sum(int(row.price) * qty for row, qty in items)
        order_id = _new_id("ord")
        paid = payments.pay(
            conn,
            member_id=member_id,
            merchant_id=merchant_id,
            amount_krw=amount,
            at=at,
            channel="online",
            invoice=order_id,
            ref=f"mall:{order_id}",
        )
        conn.execute(
            insert(orders).values(
                id=order_id,
                checkout_id=checkout_id,
                member_id=member_id,
                merchant_id=merchant_id,
                payment_id=int(paid["payment_id"]),
                status="paid",
                amount=amount,
                charged=int(paid["charged"]),
                refunded=0,
                ship_to=ship_to,
                created_at=at,
            )
        )
        conn.execute(
            insert(order_items),
            [
                {
                    "order_id": order_id,
                    "product_id": row.id,
                    "name": row.name,
                    "price": int(row.price),
                    "quantity": qty,
                }
                for row, qty in items
            ],
        )
        made.append({"order": order_id, "merchant": merchant_id, "amount": amount, **_paid(paid)})
    clear_cart(conn, member_id=member_id)
    return {"checkout": checkout_id, "orders": made}


def _paid(paid: dict[str, Any]) -> dict[str, Any]:
    keep = ("payment_id", "discount", "charged", "from_cashback", "cashback", "fee")
    return {k: paid[k] for k in keep if k in paid}


def _lock_accounts(conn: Connection, member: Any, by_shop: dict[str, Any]) -> None:
    """Every balance row the checkout's payments move, locked once in ascending order
    before the first payment (each payment then finds them held): the wallet, the shops'
    receivables and the accounts the rules pay from."""
    ids = [member.cashback_account_id, member.charged_account_id]
    ids += [
        r.receivable_account_id
        for r in conn.execute(
            select(merchant_rows.c.receivable_account_id).where(
                merchant_rows.c.id.in_(sorted(by_shop))
            )
        )
    ]
    ids += list(policy.catalog(conn).rule_accounts.values())
    ledger.lock_balances(conn, sorted(set(ids)))


# --- orders --------------------------------------------------------------------------------


def find_order(conn: Connection, order_id: object, *, member_id: str | None = None,
           merchant_id: str | None = None, lock: bool = False) -> Any:  # fmt: skip
    query = select(orders)
    if lock:
        query = query.with_for_update()
    row = None
    if isinstance(order_id, str):
        query = query.where(orders.c.id == order_id)
        if member_id is not None:
            query = query.where(orders.c.member_id == member_id)
        if merchant_id is not None:
            query = query.where(orders.c.merchant_id == merchant_id)
        row = conn.execute(query).first()
    if row is None:
        raise errors.UnknownOrder(field="order")
    return row


def _move(conn: Connection, row: Any, allowed: Iterable[str], status: str, **values: Any) -> None:
    if row.status not in allowed:
        raise errors.InvalidState(f"the order is {row.status}", field="order")
    conn.execute(update(orders).where(orders.c.id == row.id).values(status=status, **values))


def ship(
    conn: Connection, *, merchant_id: str, order_id: object, at: datetime, tracking: object = None
) -> dict[str, Any]:
    row = find_order(conn, order_id, merchant_id=merchant_id, lock=True)
    note = _text(tracking, "tracking", 200, required=False)
    _move(conn, row, ("paid",), "shipped", shipped_at=at, tracking=note)
    return order_view(conn, row.id)


def deliver(
    conn: Connection,
    *,
    order_id: object,
    at: datetime,
    member_id: str | None = None,
    merchant_id: str | None = None,
) -> dict[str, Any]:
    """The shop marks it delivered, or the buyer confirms it arrived."""
    row = find_order(conn, order_id, member_id=member_id, merchant_id=merchant_id, lock=True)
    _move(conn, row, ("shipped",), "delivered", delivered_at=at)
    return order_view(conn, row.id)


def cancel(
    conn: Connection,
    *,
    order_id: object,
    at: datetime,
    member_id: str | None = None,
    merchant_id: str | None = None,
) -> dict[str, Any]:
    """Cancel with a full refund of what is left and the stock put back: the buyer while
    it is not shipped, the shop until it is delivered."""
    row = find_order(conn, order_id, member_id=member_id, merchant_id=merchant_id, lock=True)
    allowed = ("paid",) if member_id is not None else ("paid", "shipped")
    if row.status not in allowed:
        raise errors.InvalidState(f"the order is {row.status}", field="order")
    left = _refundable(conn, row)
    refund = None
    if left > 0:
        refund = payments.refund(conn, payment_id=row.payment_id, amount_krw=left, at=at)
    for item in conn.execute(select(order_items).where(order_items.c.order_id == row.id)):
        conn.execute(
            update(products)
            .where(products.c.id == item.product_id)
            .values(stock=products.c.stock + item.quantity, updated_at=at)
        )
    _move(conn, row, allowed, "cancelled", cancelled_at=at, refunded=row.refunded + left)
    return {**order_view(conn, row.id), "refund": refund}


def _refundable(conn: Connection, row: Any) -> int:
    payment = conn.execute(
        select(payment_rows.c.charged, payment_rows.c.refunded).where(
            payment_rows.c.id == row.payment_id
        )
    ).one()
    return int(payment.charged) - int(payment.refunded)


def refund(
    conn: Connection, *, merchant_id: str, order_id: object, amount_krw: object, at: datetime
) -> dict[str, Any]:
    """The shop refunds part (or all) of a delivered order (goods kept or returned: the
    stock is the shop's to set)."""
    row = find_order(conn, order_id, merchant_id=merchant_id, lock=True)
    if row.status != "delivered":
        raise errors.InvalidState(f"the order is {row.status}", field="order")
    done = payments.refund(conn, payment_id=row.payment_id, amount_krw=amount_krw, at=at)
    conn.execute(
        update(orders)
        .where(orders.c.id == row.id)
        .values(refunded=orders.c.refunded + int(done["amount"]))
    )
    return {**order_view(conn, row.id), "refund": done}


def order_view(conn: Connection, order_id: str) -> dict[str, Any]:
    row = conn.execute(
        select(
            orders,
            payment_rows.c.discount,
            payment_rows.c.refunded.label("payment_refunded"),
            payment_rows.c.fee,
            merchant_rows.c.name.label("merchant_name"),
        )
        .join(payment_rows, payment_rows.c.id == orders.c.payment_id)
        .join(merchant_rows, merchant_rows.c.id == orders.c.merchant_id)
        .where(orders.c.id == order_id)
    ).one()
    items = [
        {
            "product": i.product_id,
            "name": i.name,
            "price": int(i.price),
            "quantity": int(i.quantity),
        }
        for i in conn.execute(
            select(order_items)
            .where(order_items.c.order_id == order_id)
            .order_by(order_items.c.name)
        )
    ]
    return order_row_view(row, items)


def order_row_view(row: Any, items: list[dict[str, Any]]) -> dict[str, Any]:
    from eum.wallets.views import iso

    return {
        "id": row.id,
        "checkout": row.checkout_id,
        "member": row.member_id,
        "merchant": row.merchant_id,
        "merchant_name": row.merchant_name,
        "payment_id": str(row.payment_id),
        "status": row.status,
        "amount": int(row.amount),
        "discount": int(row.discount),
        "charged": int(row.charged),
        "refunded": int(row.payment_refunded),
        "fee": int(row.fee),
        "ship_to": row.ship_to,
        "tracking": row.tracking,
        "created_at": iso(row.created_at),
        "shipped_at": iso(row.shipped_at) if row.shipped_at else None,
        "delivered_at": iso(row.delivered_at) if row.delivered_at else None,
        "cancelled_at": iso(row.cancelled_at) if row.cancelled_at else None,
        "items": items,
    }
