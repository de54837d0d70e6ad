"""Password hashing with argon2id, off the tick on a small thread pool.

argon2id is memory-hard: every guess costs an attacker ``memory_kib`` of
RAM for ``time_cost`` passes, which is what makes a stolen table of hashes
slow to crack on GPUs. We use argon2-cffi (a binding of the reference C
code) whose work releases the GIL, so hashing on a thread pool leaves the
node's tick free. Each hash string carries its own parameters
(``$argon2id$v=19$m=65536,t=3,p=4$salt$hash``), and ``password_params``
stores them again in words, so the cost can be raised later and old
hashes still verify (and are rehashed at the next login).

:class:`HashPool` is polled from the tick::

    pool = HashPool(Passwords())
    pool.verify(stored_hash, "guess", lambda ok: ...)
    # every tick:
    pool.poll()   # runs the callbacks of finished jobs, in the tick's thread
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import argon2

DEFAULT_TIME_COST = 3
DEFAULT_MEMORY_KIB = 65536
DEFAULT_PARALLELISM = 4
"""argon2-cffi's defaults: RFC 9106's second recommended option (64 MiB, 3 passes, 4 lanes)."""


class Passwords:
    """Hashes and checks passwords at one argon2id cost; thread-safe."""

    def __init__(self, *, time_cost: int = DEFAULT_TIME_COST, memory_kib: int = DEFAULT_MEMORY_KIB,
                 parallelism: int = DEFAULT_PARALLELISM):
        self._hasher = argon2.PasswordHasher(time_cost=time_cost, memory_cost=memory_kib,
                                             parallelism=parallelism, type=argon2.Type.ID)
        self.params = f"argon2id m={memory_kib} t={time_cost} p={parallelism}"
        """The cost in words, stored with each hash."""
        self._dummy = self._hasher.hash("not a password: timing decoy for unknown accounts")

    def hash(self, password: str) -> str:
        """A fresh salted hash of ``password`` (its parameters inside)."""
        return self._hasher.hash(password)

    def verify(self, stored: str | None, password: str) -> bool:
        """True if ``password`` matches ``stored``; ``stored=None`` checks a decoy and says False.

        The decoy makes an unknown account cost the same time as a wrong
        password, so timing does not tell which accounts exist.
        """
        try:
            ok = self._hasher.verify(stored or self._dummy, password)
        except (argon2.exceptions.VerificationError, argon2.exceptions.InvalidHashError):
            return False
        return bool(ok) and stored is not None

    def needs_rehash(self, stored: str) -> bool:
        """True if ``stored`` was made at another cost than this one's."""
        try:
            return bool(self._hasher.check_needs_rehash(stored))
        except argon2.exceptions.InvalidHashError:
            return True


class HashPool:
    """Runs hash and verify jobs on worker threads; ``poll`` hands results back in the tick."""

    def __init__(self, passwords: Passwords, *, workers: int = 2):
        self.passwords = passwords
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="argon2")
        self._jobs: list[tuple[Future[Any], Callable[[Any], None]]] = []
        self.hashes = 0
        self.verifications = 0
        """Jobs submitted, decoys included: every login attempt that passed the limits is one."""

    def hash(self, password: str, done: Callable[[str], None]) -> None:
        self.hashes += 1
        self._jobs.append((self._executor.submit(self.passwords.hash, password), done))

    def verify(self, stored: str | None, password: str, done: Callable[[bool], None]) -> None:
        self.verifications += 1
        self._jobs.append((self._executor.submit(self.passwords.verify, stored, password), done))

    @property
    def busy(self) -> int:
        """Jobs submitted and not yet handed back."""
        return len(self._jobs)

    def poll(self) -> int:
        """Call the callbacks of finished jobs (in submission order among them); returns how many."""
        if not self._jobs:
            return 0
        finished = [job for job in self._jobs if job[0].done()]
        if not finished:
            return 0
        self._jobs = [job for job in self._jobs if not job[0].done()]
        for future, done in finished:
            done(future.result())
        return len(finished)

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
