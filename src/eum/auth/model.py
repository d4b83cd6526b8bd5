"""Who is calling, and what part of the platform that person may see."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Role = Literal["member", "merchant", "promoter", "issuer_admin", "operator"]
ROLES: tuple[Role, ...] = ("member", "merchant", "promoter", "issuer_admin", "operator")
ADMIN_ROLES = ("issuer_admin", "operator")


@dataclass(frozen=True)
class Principal:
    """An authenticated user. ``issuers``/``districts`` are the area an admin or promoter
    may see (its issuer's subtree and the districts they cover); None means everywhere."""

    user_id: str
    login: str
    role: Role
    member_id: str | None = None
    merchant_id: str | None = None
    issuer_id: str | None = None
    issuers: frozenset[str] | None = None
    districts: frozenset[str] | None = None

    def sees_issuer(self, issuer_id: str | None) -> bool:
        return self.issuers is None or issuer_id in self.issuers

    def sees_district(self, district: str | None) -> bool:
        return self.districts is None or district in self.districts

    @property
    def scope(self) -> str:
        """The idempotency key space of this caller."""
        return f"user:{self.user_id}"
