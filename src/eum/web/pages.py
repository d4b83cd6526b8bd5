"""Template rendering with the filters every page uses (12,345원)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

TEMPLATES = Path(__file__).parent / "templates"


def won(amount: int | None) -> str:
    """12345 -> '12,345원' (Korean money format)."""
    return f"{int(amount or 0):,}원"


def count(n: int | None) -> str:
    return f"{int(n or 0):,}"


env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))
env.filters["won"] = won
env.filters["count"] = count


def render(request: Request, name: str, **context: Any) -> HTMLResponse:
    html = env.get_template(name).render(request=request, **context)
    return HTMLResponse(html)
