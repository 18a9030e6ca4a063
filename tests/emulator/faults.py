"""Fault injection: added latency, error statuses (429 with Retry-After, 500, 503) and connection resets."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass


@dataclass
class Fault:
    """Applies to requests whose service and path match; ``times`` None means forever."""

    kind: str  # "status" or "reset"
    status: int = 500
    retry_after: float | None = None
    service: str | None = None  # "kv", "entra", "oidc" or None for all
    path: str = ""  # regex searched in the path
    after: int = 0  # let this many matching requests through first
    every: int = 1  # then fail every n-th matching request
    times: int | None = 1
    seen: int = 0
    fired: int = 0

    def take(self, service: str, path: str) -> bool:
        if (self.service and self.service != service) or not re.search(self.path, path):
            return False
        if self.times is not None and self.fired >= self.times:
            return False
        self.seen += 1
        if self.seen <= self.after or (self.seen - self.after - 1) % self.every:
            return False
        self.fired += 1
        return True


class Faults:
    def __init__(self) -> None:
        self.latency = 0.0  # seconds added to every request
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            self._faults.append(fault)
        return fault

    def status(self, status: int, *, retry_after: float | None = None, **match: object) -> Fault:
        return self.add(Fault("status", status=status, retry_after=retry_after, **match))  # type: ignore[arg-type]

    def reset(self, **match: object) -> Fault:
        return self.add(Fault("reset", **match))  # type: ignore[arg-type]

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()
            self.latency = 0.0

    def pick(self, service: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.take(service, path):
                    return fault
        return None
