"""Settings, read from environment variables in one place (``EUM_*``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SQLITE_PATH = Path("var") / "eum.sqlite3"


class Settings(BaseSettings):
    """Platform settings; the defaults run the embedded demo on SQLite."""

    model_config = SettingsConfigDict(env_prefix="EUM_", extra="ignore")

    database_url: str = f"sqlite:///{DEFAULT_SQLITE_PATH}"
    host: str = "127.0.0.1"
    port: int = 8000
    demo: bool = True


@lru_cache(maxsize=1)
def settings() -> Settings:
    return Settings()
