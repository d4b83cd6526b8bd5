"""The platform's configuration as seen by one operation: settings, issuer tree, rules."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from eum.money.model import Rule

DEFAULT_PG_FEE_BPS = 300  # SPEC 3.8
DEFAULT_WITHDRAW_MIN_USED_BPS = 6000  # SPEC 3.11


@dataclass(frozen=True)
class Limits:
    """Charge limits of one card kind; None is no limit (SPEC 3.5)."""

    monthly_charge_krw: int | None = None
    max_balance_krw: int | None = None


@dataclass(frozen=True)
class Platform:
    pg_fee_bps: int = DEFAULT_PG_FEE_BPS
    withdraw_min_used_bps: int = DEFAULT_WITHDRAW_MIN_USED_BPS
    limits: Mapping[str, Limits] = field(default_factory=dict)

    def limits_for(self, card_kind: str) -> Limits:
        return self.limits.get(card_kind, Limits())


@dataclass(frozen=True)
class IssuerTree:
    """Issuers with their parents and districts; a metro covers its whole region."""

    parent: Mapping[str, str | None]
    districts: Mapping[str, frozenset[str]]

    def root(self, issuer_id: str) -> str:
        seen = set()
        while (up := self.parent.get(issuer_id)) is not None:
            assert issuer_id not in seen, "issuer tree has a cycle"
            seen.add(issuer_id)
            issuer_id = up
        return issuer_id

    def region(self, issuer_id: str) -> frozenset[str]:
        """Every district of the metro region the issuer belongs to (SPEC 3.3)."""
        return self._regions().get(self.root(issuer_id), frozenset())

    def _regions(self) -> dict[str, frozenset[str]]:
        cached: dict[str, frozenset[str]] | None = self.__dict__.get("_region_cache")
        if cached is None:
            cached = {r: self._region_of_root(r) for r in self.parent if self.parent[r] is None}
            object.__setattr__(self, "_region_cache", cached)
        return cached

    def _region_of_root(self, root: str) -> frozenset[str]:
        out = set(self.districts.get(root, frozenset()))
        for other in self.parent:
            if self.root(other) == root:
                out |= self.districts.get(other, frozenset())
        return frozenset(out)

    def subtree(self, issuer_id: str) -> frozenset[str]:
        """The issuer and every issuer below it."""
        out = {issuer_id}
        changed = True
        while changed:
            changed = False
            for child, up in self.parent.items():
                if up in out and child not in out:
                    out.add(child)
                    changed = True
        return frozenset(out)

    def covers(self, issuer_id: str) -> frozenset[str]:
        """Districts an issuer covers: its own and those of every issuer below it."""
        out: set[str] = set()
        for i in self.subtree(issuer_id):
            out |= self.districts.get(i, frozenset())
        return frozenset(out)


@dataclass(frozen=True)
class Catalog:
    """A consistent snapshot of what every payment needs to know about policy."""

    platform: Platform
    issuers: IssuerTree
    cashback_rules: tuple[Rule, ...]
    fee_support_rules: tuple[Rule, ...]
    rule_accounts: Mapping[str, int]  # the account each rule pays from
    merchant_groups: Mapping[str, frozenset[str]]  # merchant id -> its groups
    external_accounts: Mapping[str, int]  # code -> id of platform accounts

    def groups_of(self, merchant_id: str) -> frozenset[str]:
        return self.merchant_groups.get(merchant_id, frozenset())
