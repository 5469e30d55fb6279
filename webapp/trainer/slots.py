"""The server's training slots: at most so many trainings at once (TRANSFORMER_TRAINING_SLOTS,
else one per two CPU cores), the other sessions in line, first come first served.

No Streamlit, no session state: SLOTS is shared by every session of the server process.
"""

import os
import threading
import time

SLOTS_ENV = "TRANSFORMER_TRAINING_SLOTS"  # how many trainings the server runs at once


def default_slot_count() -> int:
    """TRANSFORMER_TRAINING_SLOTS, else one training per two CPU cores (at least one)."""
    configured = os.environ.get(SLOTS_ENV, "")
    if configured.isdecimal() and int(configured) > 0:
        return int(configured)
    return max(1, (os.cpu_count() or 1) // 2)


class Slots:
    """At most `limit` trainings at once; the others wait in line, first come first served. An
    owner waiting in line must call acquire again (the page does, every second): one that stops
    asking for WAIT_TIMEOUT_S (its session closed) loses its place."""

    WAIT_TIMEOUT_S = 10.0

    def __init__(self, limit: int):
        self.limit = limit
        self.holders: set[str] = set()
        self.waiting: dict[str, float] = {}  # owner -> when it last asked, in order of arrival
        self.lock = threading.Lock()

    def acquire(self, owner: str) -> int:
        """0 if owner holds a slot now, else its place in line (1: next)."""
        with self.lock:
            if owner in self.holders:
                return 0
            now = time.monotonic()
            self.waiting = {o: t for o, t in self.waiting.items() if now - t < self.WAIT_TIMEOUT_S or o == owner}
            self.waiting[owner] = now
            line = list(self.waiting)
            if len(self.holders) < self.limit and line[0] == owner:
                del self.waiting[owner]
                self.holders.add(owner)
                return 0
            return line.index(owner) + 1

    def release(self, owner: str) -> None:
        with self.lock:
            self.holders.discard(owner)
            self.waiting.pop(owner, None)

    def busy(self) -> int:
        with self.lock:
            return len(self.holders)


SLOTS = Slots(default_slot_count())  # one per server process, shared by every session
