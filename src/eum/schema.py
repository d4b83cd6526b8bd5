"""Every table of every room, imported so that ``metadata`` is complete (migrations use it)."""

from eum import idempotency  # noqa: F401
from eum.audit import store as audit_store  # noqa: F401
from eum.auth import store as auth_store  # noqa: F401
from eum.benefits import store as benefits_store  # noqa: F401
from eum.community import store as community_store  # noqa: F401
from eum.db import metadata
from eum.ledger import store as ledger_store  # noqa: F401
from eum.mall import store as mall_store  # noqa: F401
from eum.merchants import store as merchants_store  # noqa: F401
from eum.payments import store as payments_store  # noqa: F401
from eum.policy import store as policy_store  # noqa: F401
from eum.promoters import store as promoters_store  # noqa: F401
from eum.stats import store as stats_store  # noqa: F401
from eum.wallets import store as wallets_store  # noqa: F401

__all__ = ["metadata"]
