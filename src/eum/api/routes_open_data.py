"""Open data (issue #6): payments per month, district and merchant category as JSON and
CSV, public and without personal data (see ``eum.stats.open_data``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from fastapi.responses import Response

from eum.api.deps import DB
from eum.api.routes_ops import MONTH
from eum.stats import open_data

router = APIRouter(prefix="/api/v1/open-data", tags=["statistics"])
Month = Annotated[str, Path(pattern=MONTH, description="KST 월 (YYYY-MM)")]


@router.get("/{month}.json")
def open_data_json(db: DB, month: Month) -> dict[str, Any]:
    """공공데이터: 월·행정구역·업종별 결제 건수와 결제액 (환불 차감, 10건 미만은 비공개)."""
    return open_data.document(month, db.read(lambda c: open_data.rows(c, month)))


@router.get(
    "/{month}.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}},
)
def open_data_csv(db: DB, month: Month) -> Response:
    """공공데이터 CSV (UTF-8, BOM): 월·행정구역·업종별 결제 건수와 결제액."""
    text = open_data.csv_text(db.read(lambda c: open_data.rows(c, month)))
    return Response(
        content=text.encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="eum-open-data-{month}.csv"'},
    )
