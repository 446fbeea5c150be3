"""The send caps, as the sign-in app knew them: they live in `deskgate.delivery.caps` now,
where every message passes (codes, notices, reset links)."""

from deskgate.delivery.caps import SCOPE_MESSAGES, take

__all__ = ["SCOPE_MESSAGES", "take"]
