"""the mall, the phone-order directory, Benefit Plus services, promoters

Products, carts, orders (one per shop of a checkout, paid by one online payment) and
their items; the phone-order directory; consultation slots and their bookings (the slot
is the booking's key: no double booking), credit-guarantee fee certificates, QR kit
requests; promoters' visits, the sign-ups they brought and shops' stickers; a merchant's
neighbourhood (동), for the sticker coverage table.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 07:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _when(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _ref(name: str, target: str, **kw: object) -> sa.Column[str]:
    return sa.Column(name, sa.String(64), sa.ForeignKey(target), **kw)  # type: ignore[arg-type]


def upgrade() -> None:
    op.add_column("merchants", sa.Column("neighbourhood", sa.String(64)))
    op.create_table(
        "products",
        sa.Column("id", sa.String(64), primary_key=True),
        _ref("merchant_id", "merchants.id", nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text()),
        sa.Column("price", sa.BigInteger(), nullable=False),
        sa.Column("stock", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(64)),
        sa.Column("image", sa.String(200)),
        sa.Column("active", sa.Boolean(), nullable=False),
        _when("created_at"),
        _when("updated_at"),
        sa.CheckConstraint("stock >= 0", name="ck_products_stock"),
        sa.CheckConstraint("price >= 0", name="ck_products_price"),
    )
    op.create_index("ix_products_merchant", "products", ["merchant_id"])
    op.create_table(
        "cart_items",
        _ref("member_id", "members.id", primary_key=True),
        _ref("product_id", "products.id", primary_key=True),
        sa.Column("quantity", sa.Integer(), nullable=False),
        _when("added_at"),
        sa.CheckConstraint("quantity > 0", name="ck_cart_items_quantity"),
    )
    op.create_table(
        "orders",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("checkout_id", sa.String(64), nullable=False),
        _ref("member_id", "members.id", nullable=False),
        _ref("merchant_id", "merchants.id", nullable=False),
        sa.Column("payment_id", sa.BigInteger(), sa.ForeignKey("payments.id"), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("charged", sa.BigInteger(), nullable=False),
        sa.Column("refunded", sa.BigInteger(), nullable=False),
        sa.Column("ship_to", sa.String(300), nullable=False),
        sa.Column("tracking", sa.String(200)),
        _when("created_at"),
        _when("shipped_at", True),
        _when("delivered_at", True),
        _when("cancelled_at", True),
    )
    op.create_index("ix_orders_member", "orders", ["member_id", "created_at"])
    op.create_index("ix_orders_merchant", "orders", ["merchant_id", "created_at"])
    op.create_index("ix_orders_checkout", "orders", ["checkout_id"])
    op.create_table(
        "order_items",
        _ref("order_id", "orders.id", primary_key=True),
        _ref("product_id", "products.id", primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("price", sa.BigInteger(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
    )
    op.create_table(
        "phone_listings",
        _ref("merchant_id", "merchants.id", primary_key=True),
        sa.Column("phone", sa.String(20), nullable=False),
        sa.Column("hours", sa.String(200), nullable=False),
        sa.Column("menu", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        _when("updated_at"),
    )
    op.create_table(
        "consult_slots",
        sa.Column("id", sa.String(64), primary_key=True),
        _ref("issuer_id", "issuers.id", nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        _when("starts_at"),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.Column("place", sa.String(200), nullable=False),
        _when("created_at"),
    )
    op.create_index("ix_consult_slots_issuer", "consult_slots", ["issuer_id", "starts_at"])
    op.create_table(
        "consult_bookings",
        _ref("slot_id", "consult_slots.id", primary_key=True),
        _ref("merchant_id", "merchants.id", nullable=False),
        sa.Column("note", sa.String(500)),
        _when("booked_at"),
    )
    op.create_table(
        "benefit_certificates",
        sa.Column("id", sa.String(64), primary_key=True),
        _ref("merchant_id", "merchants.id", nullable=False),
        _when("issued_at"),
    )
    op.create_table(
        "qr_kit_requests",
        sa.Column("id", sa.String(64), primary_key=True),
        _ref("merchant_id", "merchants.id", nullable=False),
        sa.Column("address", sa.String(300), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        _when("requested_at"),
        _when("updated_at"),
    )
    op.create_index("ix_qr_kit_requests_merchant", "qr_kit_requests", ["merchant_id"])
    op.create_table(
        "promoter_visits",
        sa.Column("id", sa.String(64), primary_key=True),
        _ref("promoter_id", "users.id", nullable=False),
        _ref("merchant_id", "merchants.id", nullable=False),
        _when("visited_at"),
        sa.Column("note", sa.String(500)),
    )
    op.create_index("ix_promoter_visits_promoter", "promoter_visits", ["promoter_id", "visited_at"])
    op.create_index("ix_promoter_visits_merchant", "promoter_visits", ["merchant_id"])
    op.create_table(
        "promoter_signups",
        _ref("merchant_id", "merchants.id", primary_key=True),
        _ref("promoter_id", "users.id", nullable=False),
        _when("at"),
    )
    op.create_table(
        "stickers",
        _ref("merchant_id", "merchants.id", primary_key=True),
        sa.Column("status", sa.String(20), nullable=False),
        _ref("promoter_id", "users.id", nullable=False),
        _when("updated_at"),
    )


def downgrade() -> None:
    for table in (
        "stickers",
        "promoter_signups",
        "promoter_visits",
        "qr_kit_requests",
        "benefit_certificates",
        "consult_bookings",
        "consult_slots",
        "phone_listings",
        "order_items",
        "orders",
        "cart_items",
        "products",
    ):
        op.drop_table(table)
    op.execute("ALTER TABLE merchants DROP COLUMN neighbourhood")
