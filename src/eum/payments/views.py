"""Who sees which payment: a member its own, a merchant its own sales, an issuer admin
the payments at merchants in its area, an operator everything. The member's name is
shown in full to the member only, masked to everyone else (``eum.privacy``)."""

from __future__ import annotations

import heapq
from typing import Any

from sqlalchemy import Connection, false, select

from eum import errors
from eum.auth.model import Principal
from eum.money.refunds import current
from eum.payments.store import payment_lines, payments
from eum.privacy import member_name_for
from eum.wallets.store import members
from eum.wallets.views import iso


def _view(row: Any, lines: list[Any], member_name: str | None = None) -> dict[str, Any]:
    def now(x: int) -> int:
        return current(x, row.charged, row.refunded)

    return {
        "id": str(row.id),
        "ref": row.ref,
        "at": iso(row.at),
        "member": row.member_id,
        "member_name": member_name,
        "group": row.group_id,
        "merchant": row.merchant_id,
        "channel": row.channel,
        "amount": row.amount,
        "discount": row.discount,
        "coupon": row.coupon_id,
        "coupon_off": row.coupon_off,
        "charged": row.charged,
        "refunded": row.refunded,
        "status": row.status,
        "invoice": row.invoice,
        "from_cashback": now(row.from_cashback),
        "fee": now(row.fee),
        "cashback": {ln.rule_id: now(ln.amount) for ln in lines if ln.kind == "cashback"},
        "fee_support": {ln.rule_id: now(ln.amount) for ln in lines if ln.kind == "fee_support"},
    }


def _scoped(query: Any, p: Principal) -> Any:
    if p.role == "member":
        return query.where(payments.c.member_id == p.member_id)
    if p.role == "merchant":
        return query.where(payments.c.merchant_id == p.merchant_id)
    if p.role == "issuer_admin":  # a merchant's district never changes
        return query.where(payments.c.district.in_(sorted(p.districts or ())))
    if p.role == "operator":
        return query
    return query.where(false())  # promoters (and any other role) see no one's payments


def visible(
    conn: Connection, p: Principal, limit: int, cursor: str | None, merchant: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """A page of the payments ``p`` may see, newest first."""
    query = _scoped(select(payments), p)
    if cursor:
        if not cursor.isdigit() or len(cursor) > 20:
            raise errors.InvalidRequest("bad cursor", field="cursor")
        query = query.where(payments.c.id < int(cursor))
    if merchant:
        query = query.where(payments.c.merchant_id == merchant)

    def newest(q: Any) -> list[Any]:
        return list(conn.execute(q.order_by(payments.c.id.desc()).limit(limit + 1)))

    if p.role == "issuer_admin" and not merchant:
        # Each district's newest from its index range, merged: never a sort of all.
        rows = heapq.nlargest(
            limit + 1,
            (
                r
                for d in sorted(p.districts or ())
                for r in newest(query.where(payments.c.district == d))
            ),
            key=lambda r: r.id,
        )
    else:
        rows = newest(query)
    page = rows[:limit]
    lines = _lines(conn, [r.id for r in page])
    names = _names(conn, p, page)
    items = [_view(r, lines.get(r.id, []), names.get(r.member_id)) for r in page]
    return items, (str(page[-1].id) if len(rows) > limit and page else None)


def _lines(conn: Connection, ids: list[int]) -> dict[int, list[Any]]:
    out: dict[int, list[Any]] = {}
    if ids:
        for ln in conn.execute(
            select(payment_lines)
            .where(payment_lines.c.payment_id.in_(ids))
            .order_by(payment_lines.c.seq)
        ):
            out.setdefault(ln.payment_id, []).append(ln)
    return out


def _names(conn: Connection, p: Principal, rows: list[Any]) -> dict[str, str | None]:
    """The names of the rows' members, as ``p`` may see them."""
    ids = sorted({r.member_id for r in rows if r.member_id is not None})
    if not ids:
        return {}
    found = conn.execute(select(members.c.id, members.c.name).where(members.c.id.in_(ids)))
    return {r.id: member_name_for(p, r.id, r.name) for r in found}


def _find_visible(conn: Connection, p: Principal, payment_id: str) -> Any:
    if not payment_id.isdigit() or len(payment_id) > 20:
        raise errors.UnknownPayment(field="payment")
    row = conn.execute(_scoped(select(payments), p).where(payments.c.id == int(payment_id))).first()
    if row is None:  # outside the caller's area looks the same as missing
        raise errors.UnknownPayment(field="payment")
    return row


def one(conn: Connection, p: Principal, payment_id: str) -> dict[str, Any]:
    row = _find_visible(conn, p, payment_id)
    name = _names(conn, p, [row]).get(row.member_id)
    return _view(row, _lines(conn, [row.id]).get(row.id, []), name)


def check_refund_allowed(conn: Connection, p: Principal, payment_id: str) -> None:
    """Refunds are the merchant's to give (or an operator's); a member cannot refund itself."""
    if p.role not in ("merchant", "operator"):
        raise errors.Forbidden("only the merchant (or an operator) refunds a payment")
    _find_visible(conn, p, payment_id)
