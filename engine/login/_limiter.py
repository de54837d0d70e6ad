"""Rate limits as token buckets, fed the time by the caller (the engine clock).

A bucket holds up to ``burst`` tokens and gains ``rate`` per second; each
attempt takes one. :class:`RateLimiter` keeps one bucket per key (an
account name, an address) and forgets full ones, so memory stays bounded
by the keys seen recently.

>>> limiter = RateLimiter(burst=2, rate=1.0)
>>> [limiter.allow("10.0.0.1", now=0.0) for _ in range(3)]
[True, True, False]
>>> limiter.allow("10.0.0.1", now=1.0)
True
"""

from __future__ import annotations

from collections import OrderedDict


class TokenBucket:
    """``burst`` tokens, refilled at ``rate`` per second; ``take`` spends one if there is one."""

    __slots__ = ("burst", "rate", "tokens", "updated")

    def __init__(self, burst: float, rate: float, now: float):
        self.burst = burst
        self.rate = rate
        self.tokens = float(burst)
        self.updated = now

    def refill(self, now: float) -> None:
        if now > self.updated:
            self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
            self.updated = now

    def take(self, now: float) -> bool:
        self.refill(now)
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class RateLimiter:
    """One token bucket per key; at most ``max_keys`` buckets, the least recently used dropped."""

    def __init__(self, *, burst: float, rate: float, max_keys: int = 100_000):
        if burst < 1 or rate <= 0 or max_keys < 1:
            raise ValueError("burst >= 1, rate > 0 and max_keys >= 1")
        self.burst = burst
        self.rate = rate
        self.max_keys = max_keys
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()
        self.refused = 0

    def allow(self, key: str, *, now: float) -> bool:
        """Spend one attempt for ``key``; False (and counted) if its bucket is empty."""
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = TokenBucket(self.burst, self.rate, now)
            self._buckets[key] = bucket
            if len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
        if bucket.take(now):
            return True
        self.refused += 1
        return False

    def __len__(self) -> int:
        return len(self._buckets)
