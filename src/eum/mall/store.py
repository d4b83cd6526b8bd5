"""Tables of the mall: products, carts, orders and their items.

An order is one shop's part of a checkout, paid by one payment (channel ``online``);
``refunded`` follows the refunds booked on that payment through the order.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
)

from eum.db import metadata

products = Table(
    "products",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("merchant_id", String(64), ForeignKey("merchants.id"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("description", Text),
    Column("price", BigInteger, nullable=False),  # won, list price
    Column("stock", Integer, nullable=False),
    Column("category", String(64)),
    Column("image", String(200)),  # a file name under the image directory, or none
    Column("active", Boolean, nullable=False, default=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    CheckConstraint("stock >= 0", name="ck_products_stock"),
    CheckConstraint("price >= 0", name="ck_products_price"),
    Index("ix_products_merchant", "merchant_id"),
)

cart_items = Table(
    "cart_items",
    metadata,
    Column("member_id", String(64), ForeignKey("members.id"), primary_key=True),
    Column("product_id", String(64), ForeignKey("products.id"), primary_key=True),
    Column("quantity", Integer, nullable=False),
    Column("added_at", DateTime(timezone=True), nullable=False),
    CheckConstraint("quantity > 0", name="ck_cart_items_quantity"),
)

orders = Table(
    "orders",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("checkout_id", String(64), nullable=False),  # the orders of one checkout
    Column("member_id", String(64), ForeignKey("members.id"), nullable=False),
    Column("merchant_id", String(64), ForeignKey("merchants.id"), nullable=False),
    Column("payment_id", BigInteger, ForeignKey("payments.id"), nullable=False),
    Column("status", String(20), nullable=False),  # paid | shipped | delivered | cancelled
    Column("amount", BigInteger, nullable=False),  # list price of its items
    Column("charged", BigInteger, nullable=False),  # what the payment charged
    Column("refunded", BigInteger, nullable=False, default=0),
    Column("ship_to", String(300), nullable=False),  # the delivery address given at checkout
    Column("tracking", String(200)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("shipped_at", DateTime(timezone=True)),
    Column("delivered_at", DateTime(timezone=True)),
    Column("cancelled_at", DateTime(timezone=True)),
    Index("ix_orders_member", "member_id", "created_at"),
    Index("ix_orders_merchant", "merchant_id", "created_at"),
    Index("ix_orders_checkout", "checkout_id"),
)

order_items = Table(
    "order_items",
    metadata,
    Column("order_id", String(64), ForeignKey("orders.id"), primary_key=True),
    Column("product_id", String(64), ForeignKey("products.id"), primary_key=True),
    Column("name", String(200), nullable=False),  # as sold
    Column("price", BigInteger, nullable=False),  # as sold
    Column("quantity", Integer, nullable=False),
)
