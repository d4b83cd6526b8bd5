"""Settings, read from environment variables in one place (``EUM_*``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SQLITE_PATH = Path("var") / "eum.sqlite3"
DEMO_SECRET = b"eum-demo-secret-not-for-production"


class Settings(BaseSettings):
    """Platform settings; the defaults run the embedded demo on SQLite."""

    model_config = SettingsConfigDict(env_prefix="EUM_", extra="ignore")

    database_url: str = f"sqlite:///{DEFAULT_SQLITE_PATH}"
    host: str = "127.0.0.1"
    port: int = 8000
    # Demo mode allows the built-in demo secret; outside it a secret must be configured.
    demo: bool = True
    secret_key: str | None = None
    token_ttl_minutes: int = 12 * 60
    # Mark cookies Secure on every request, not only those that came over HTTPS: for a
    # server behind a TLS-terminating proxy that does not say X-Forwarded-Proto.
    cookie_secure: bool = False
    login_max_failures: int = 5
    login_lockout_minutes: int = 15
    # Sign-in attempts one client address may make per minute, whatever the login.
    login_attempts_per_minute: int = 20
    qr_ttl_seconds: int = 300
    # argon2id cost; the defaults are argon2-cffi's (RFC 9106 low-memory profile)
    password_time_cost: int = 3
    password_memory_kib: int = 65536
    max_body_bytes: int = 64 * 1024
    # Where the payment engine books: a thread of the server process, or a process of its
    # own (eum.payments.writer); in-memory SQLite always keeps the thread.
    payment_writer: Literal["thread", "process"] = "process"

    def signing_key(self) -> bytes:
        """The server key that signs QR payloads (never a default outside demo mode)."""
        if self.secret_key:
            return self.secret_key.encode()
        if not self.demo:
            raise RuntimeError("EUM_SECRET_KEY must be set when EUM_DEMO is false")
        return DEMO_SECRET


@lru_cache(maxsize=1)
def settings() -> Settings:
    return Settings()
