"""Pending operations and their outcomes: tickets and packet ids -> results or errors.

Each adapter creates its own waiter objects (an `asyncio.Future`, a `concurrent.futures.Future`,
an anyio-friendly future) and registers them here; the engine's events resolve them. Deadlines
are kept in one FIFO per table because every operation of a kind has the same timeout, so the
oldest entry always expires first and expiry costs O(1) per operation.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

from adapters.errors import AckTimeout

__all__ = ["Results", "Waiter"]

# Kinds of pending operations, in the deadline queue.
_PUBLISH, _SUBSCRIBE, _UNSUBSCRIBE, _PING, _REAUTH = range(5)
_OPERATION = ("publish", "subscribe", "unsubscribe", "ping", "reauthenticate")
#: Entries of finished operations are dropped from the front of the deadline queue once it
#: holds this many more entries than there are pending operations (bounds its memory).
_COMPACT_SLACK = 1024


class Waiter(Protocol):
    """What an adapter's future must offer (`asyncio.Future` and
    `concurrent.futures.Future` do)."""

    def done(self) -> bool:
        """Whether a result or an exception was set (or the waiter was cancelled)."""
        ...

    def set_result(self, result: Any, /) -> None:
        """Complete with ``result``."""

    def set_exception(self, exception: BaseException, /) -> None:
        """Complete with ``exception``."""


class Results:
    """The operations waiting for the server, each with its waiter and deadline.

    Args:
        ack_timeout: Seconds an operation may wait for its acknowledgement.
        on_publish_timeout: Called with the ticket of a publish that timed out, before its
            waiter fails (the driver withdraws it from the engine).
    """

    def __init__(
        self, ack_timeout: float, on_publish_timeout: Callable[[int], object] | None = None
    ) -> None:
        self.ack_timeout = ack_timeout
        self._on_publish_timeout = on_publish_timeout
        #: publish ticket -> waiter
        self.publishes: dict[int, Waiter] = {}
        self.subscribes: dict[int, Waiter] = {}
        self.unsubscribes: dict[int, Waiter] = {}
        self.pings: deque[Waiter] = deque()
        self.reauth: Waiter | None = None
        self._deadlines: deque[tuple[float, int, object, Waiter]] = deque()

    # -- registering ---------------------------------------------------------------------------

    def add_publish(self, ticket: int, waiter: Waiter, now: float) -> None:
        """Wait for publish ``ticket``."""
        self.publishes[ticket] = waiter
        deadlines = self._deadlines
        deadlines.append((now + self.ack_timeout, _PUBLISH, ticket, waiter))
        if len(deadlines) > len(self.publishes) + _COMPACT_SLACK:
            self._compact()

    def add_subscribe(self, packet_id: int, waiter: Waiter, now: float) -> None:
        """Wait for the SUBACK of ``packet_id``."""
        self.subscribes[packet_id] = waiter
        self._deadlines.append((now + self.ack_timeout, _SUBSCRIBE, packet_id, waiter))

    def add_unsubscribe(self, packet_id: int, waiter: Waiter, now: float) -> None:
        """Wait for the UNSUBACK of ``packet_id``."""
        self.unsubscribes[packet_id] = waiter
        self._deadlines.append((now + self.ack_timeout, _UNSUBSCRIBE, packet_id, waiter))

    def add_ping(self, waiter: Waiter, now: float) -> None:
        """Wait for a PINGRESP (answered in order)."""
        self.pings.append(waiter)
        self._deadlines.append((now + self.ack_timeout, _PING, None, waiter))

    def add_reauth(self, waiter: Waiter, now: float) -> None:
        """Wait for the end of a re-authentication."""
        self.reauth = waiter
        self._deadlines.append((now + self.ack_timeout, _REAUTH, None, waiter))

    # -- completing ----------------------------------------------------------------------------

    @staticmethod
    def resolve(waiter: Waiter | None, result: object) -> None:
        """Set ``result`` unless the waiter is gone or already done (cancelled by its caller)."""
        if waiter is not None and not waiter.done():
            waiter.set_result(result)

    @staticmethod
    def fail(waiter: Waiter | None, error: BaseException) -> None:
        """Set ``error`` unless the waiter is gone or already done."""
        if waiter is not None and not waiter.done():
            waiter.set_exception(error)

    def pop_ping(self) -> Waiter | None:
        """The oldest ping waiter, if any."""
        return self.pings.popleft() if self.pings else None

    def pop_reauth(self) -> Waiter | None:
        """The re-authentication waiter, if any."""
        waiter, self.reauth = self.reauth, None
        return waiter

    def fail_calls(self, error_factory: Callable[[], BaseException]) -> None:
        """Fail every pending subscribe, unsubscribe, ping and re-authentication: their packets
        are not resent on another connection. Publishes stay: the session resends them."""
        for table in (self.subscribes, self.unsubscribes):
            waiters = list(table.values())
            table.clear()
            for waiter in waiters:
                self.fail(waiter, error_factory())
        while self.pings:
            self.fail(self.pings.popleft(), error_factory())
        self.fail(self.pop_reauth(), error_factory())

    def fail_all(self, error_factory: Callable[[], BaseException]) -> None:
        """Fail every pending operation, publishes included (the client is finished)."""
        self.fail_calls(error_factory)
        waiters = list(self.publishes.values())
        self.publishes.clear()
        for waiter in waiters:
            self.fail(waiter, error_factory())
        self._deadlines.clear()

    @property
    def pending(self) -> int:
        """How many operations are waiting."""
        return (
            len(self.publishes)
            + len(self.subscribes)
            + len(self.unsubscribes)
            + len(self.pings)
            + (self.reauth is not None)
        )

    # -- deadlines -----------------------------------------------------------------------------

    def next_deadline(self) -> float | None:
        """When `expire` has something to do next (possibly early: it then only tidies up)."""
        deadlines = self._deadlines
        return deadlines[0][0] if deadlines else None

    def expire(self, now: float) -> None:
        """Fail the operations whose deadline has passed with `AckTimeout`."""
        deadlines = self._deadlines
        while deadlines:
            deadline, kind, key, waiter = deadlines[0]
            if self._is_pending(kind, key, waiter):
                if deadline > now:
                    return
                deadlines.popleft()
                self._remove(kind, key, waiter)
                if kind == _PUBLISH and self._on_publish_timeout is not None:
                    assert isinstance(key, int)
                    self._on_publish_timeout(key)
                operation = _OPERATION[kind]
                self.fail(
                    waiter,
                    AckTimeout(
                        f"no acknowledgement of {operation} within {self.ack_timeout:g} s",
                        operation=operation,
                    ),
                )
            else:
                deadlines.popleft()

    def _compact(self) -> None:
        deadlines = self._deadlines
        while deadlines:
            _, kind, key, waiter = deadlines[0]
            if self._is_pending(kind, key, waiter):
                return
            deadlines.popleft()

    def _is_pending(self, kind: int, key: object, waiter: Waiter) -> bool:
        if kind == _PUBLISH:
            return self.publishes.get(key) is waiter  # type: ignore[call-overload]
        if kind == _SUBSCRIBE:
            return self.subscribes.get(key) is waiter  # type: ignore[call-overload]
        if kind == _UNSUBSCRIBE:
            return self.unsubscribes.get(key) is waiter  # type: ignore[call-overload]
        if kind == _PING:
            return waiter in self.pings
        return self.reauth is waiter

    def _remove(self, kind: int, key: object, waiter: Waiter) -> None:
        if kind == _PUBLISH:
            del self.publishes[key]  # type: ignore[arg-type]
        elif kind == _SUBSCRIBE:
            del self.subscribes[key]  # type: ignore[arg-type]
        elif kind == _UNSUBSCRIBE:
            del self.unsubscribes[key]  # type: ignore[arg-type]
        elif kind == _PING:
            self.pings.remove(waiter)
        else:
            self.reauth = None
