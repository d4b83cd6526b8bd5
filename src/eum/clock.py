"""Business time is Asia/Seoul (SPEC 3.2): KST months and dates of aware datetimes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

# Korea has kept UTC+9 without daylight saving since 1988; a fixed offset needs no tzdata.
KST = timezone(timedelta(hours=9), "KST")


def now() -> datetime:
    return datetime.now(UTC).astimezone(KST)


def as_kst(at: datetime) -> datetime:
    """An aware time in KST; a naive time is taken to be KST already."""
    if at.tzinfo is None:
        return at.replace(tzinfo=KST)
    return at.astimezone(KST)


def kst_day(at: datetime) -> date:
    return as_kst(at).date()


def kst_month(at: datetime) -> str:
    """The KST calendar month as ``YYYY-MM`` (SPEC 3.2)."""
    return as_kst(at).strftime("%Y-%m")


def parse_time(value: object) -> datetime:
    """An ISO 8601 time (string or datetime); without an offset it is KST."""
    if isinstance(value, datetime):
        return as_kst(value)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=KST)
    if not isinstance(value, str):
        raise ValueError(f"not a time: {value!r}")
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    return as_kst(datetime.fromisoformat(text))


def parse_date(value: object) -> date:
    if isinstance(value, datetime):
        return kst_day(value)
    if isinstance(value, date):
        return value
    if not isinstance(value, str):
        raise ValueError(f"not a date: {value!r}")
    return date.fromisoformat(value.strip())
