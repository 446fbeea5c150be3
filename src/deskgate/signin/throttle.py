"""One back-off for every lock: consecutive failures lock a step, each lock longer.

The code step (R7) and the password step each keep their own `Lock` in the user's
`SignInGuard` row; the reset mail's retries wait by the same `Backoff`. Pure: the caller
holds the row lock (`SignInGuard.objects.locked_for`) and saves what changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class Backoff:
    """A lock that grows: `after` consecutive failures lock the step for the first of
    `steps` (seconds), the next lock for the second, and so on; the last step repeats."""

    after: int
    steps: tuple[int, ...]

    def seconds(self, earlier: int) -> int:
        """How long the lock (or wait) that follows `earlier` earlier ones lasts."""
        return self.steps[min(earlier, len(self.steps) - 1)]


@dataclass
class Lock:
    """One step's lock state: consecutive failures, locks so far, and the current lock."""

    failures: int = 0
    count: int = 0  # locks since the last success: the next one lasts longer
    until: datetime | None = None

    def locked(self, now: datetime) -> bool:
        return self.until is not None and self.until > now

    def fail(self, now: datetime, backoff: Backoff) -> bool:
        """Count one failure; answer whether it locks the step (from `now`)."""
        self.failures += 1
        if self.failures < backoff.after:
            return False
        self.until = now + timedelta(seconds=backoff.seconds(self.count))
        self.count += 1
        self.failures = 0
        return True

    def clear(self) -> bool:
        """A success (or a reset link) starts over; answer whether anything changed."""
        if not (self.failures or self.count or self.until):
            return False
        self.failures, self.count, self.until = 0, 0, None
        return True
