"""Open data (issue #6): payments per KST month, district and merchant category, for anyone.

Read from the ``payment_months`` counters only (summed over card issuers), so nothing in
it names a member, merchant, user or payment: its keys are district and category codes.
A cell of fewer than ``MIN_CELL`` payments is suppressed (its count and amount are None,
``suppressed`` is true) so that no small group of people, or one shop, can be singled
out. No totals are published beside the cells, so a suppressed cell cannot be got back
by subtraction. Cashback and fee support are not attributable to a category and are
left out.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from sqlalchemy import Connection, func, select

from eum.stats.store import payment_months
from eum.web import names

MIN_CELL = 10  # payments a cell needs to be published
COLUMNS = (
    "month",
    "district",
    "district_name",
    "category",
    "category_name",
    "payments",
    "paid",
    "suppressed",
)


def rows(conn: Connection, month: str) -> list[dict[str, Any]]:
    """One row per (district, category) with payments in the KST ``month`` (``YYYY-MM``):
    how many were made and what they came to net of refunds (won), small cells suppressed."""
    made = payment_months.c
    found = conn.execute(
        select(made.district, made.category, func.sum(made.payments), func.sum(made.paid))
        .where(made.month == month)
        .group_by(made.district, made.category)
        .order_by(made.district, made.category)
    )
    out = []
    for district, category, count, paid in found:
        small = int(count) < MIN_CELL
        out.append(
            {
                "month": month,
                "district": district,
                "district_name": names.district(district),
                "category": category,
                "category_name": names.category(category),
                "payments": None if small else int(count),
                "paid": None if small else int(paid),
                "suppressed": small,
            }
        )
    return out


def document(month: str, found: list[dict[str, Any]]) -> dict[str, Any]:
    """The JSON form: the month, the suppression threshold and the rows."""
    return {"month": month, "min_cell": MIN_CELL, "rows": found}


def csv_text(found: list[dict[str, Any]]) -> str:
    """UTF-8 CSV text with a BOM (so spreadsheet programs read the Korean names) and a
    header row; a suppressed count or amount is an empty cell."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for row in found:
        writer.writerow(
            [
                "true" if value is True else "false" if value is False else value
                for value in (row[column] for column in COLUMNS)
            ]
        )  # csv writes None as an empty cell
    return "\ufeff" + buffer.getvalue()
