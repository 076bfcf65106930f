"""Connection lifecycle decisions shared by the blocking and the async clients.

The adapters differ in how they wait (threads, event loops, task groups) but not in what they
decide: which status a client is in, what ends a client and what makes it reconnect, how a
redirection is followed, and which error a caller sees once the client is finished. Those
decisions live here, free of I/O, so every adapter makes them the same way.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from typing import Any, Final, Literal

from adapters._driver import is_redirect
from adapters._reconnect import ConnectPlan
from adapters._results import Results
from adapters.errors import ClientClosed, ClientError, ConnackRefused, ConnectionLost
from emqtt_core.enums import QoS
from emqtt_core.events import ConnectionClosed, PublishCompleted
from emqtt_core.reason_codes import ReasonCode
from emqtt_core.session import ClientSession, SubscriptionInfo

__all__ = [
    "CLOSE_TIMEOUT",
    "QOS0_RESULT",
    "CallChecks",
    "RESUME_FRACTION",
    "StateViews",
    "WRITE_HIGH_WATER",
    "Status",
    "closed_error",
    "fail_pending",
    "follow_connack_redirect",
    "lost_error",
    "next_step",
    "resume_level",
]

Status = Literal["initialized", "connecting", "connected", "reconnecting", "closed"]

#: The result of every QoS 0 publish made on an open connection (no acknowledgement exists).
QOS0_RESULT: Final = PublishCompleted(0, QoS.AT_MOST_ONCE, None)
#: Seconds the closing handshake of a connection may take before the socket is closed anyway.
CLOSE_TIMEOUT: Final = 5.0
#: Bytes waiting for the socket (or queued in the engine since the last flush) above which a
#: publisher waits for the I/O to catch up, for the adapters that do not have asyncio's
#: transport flow control: memory stays bounded whatever the producers do.
WRITE_HIGH_WATER: Final = 1024 * 1024
#: Reading resumes once the message queue is down to this fraction of its bound.
RESUME_FRACTION: Final = 0.5


def resume_level(queue_limit: int) -> int:
    """How few queued messages let reading resume after the queue of ``queue_limit`` filled."""
    return max(1, int(queue_limit * RESUME_FRACTION))

_REDIRECT_CODES = (ReasonCode.USE_ANOTHER_SERVER, ReasonCode.SERVER_MOVED)


def follow_connack_redirect(plan: ConnectPlan, error: BaseException) -> None:
    """After a failed attempt: if the server refused with 0x9C/0x9D and a Server Reference,
    make the referenced server the next one ``plan`` tries."""
    if (
        isinstance(error, ConnackRefused)
        and error.server_reference
        and error.reason_code in _REDIRECT_CODES
    ):
        plan.redirect(
            error.server_reference, permanent=error.reason_code == ReasonCode.SERVER_MOVED
        )


def next_step(
    plan: ConnectPlan, event: ConnectionClosed, error: ClientError | None, *, closing: bool
) -> tuple[bool, bool]:
    """What follows the end of an established connection.

    Args:
        plan: The client's connection plan (its policy decides about reconnection).
        event: The engine's `ConnectionClosed`.
        error: The adapter error describing the end (None after the client's own
            ``disconnect``).
        closing: The application asked to disconnect.

    Returns:
        ``(reconnect, redirected)``: whether to reconnect, and whether a redirection was
        followed (then the next round starts at once, without backoff). When ``reconnect``
        is False the client finishes, with ``error`` as its final error.
    """
    if error is None or closing or plan.policy is None:
        return False, False
    redirected = False
    if is_redirect(event):
        assert event.server_reference is not None
        redirected = plan.redirect(
            event.server_reference, permanent=event.reason_code == ReasonCode.SERVER_MOVED
        )
    return True, redirected


def lost_error(error: ClientError) -> ConnectionLost:
    """A fresh `ConnectionLost` for a caller, chaining the client's final ``error``.

    Every caller gets its own exception object: raising one object from several threads or
    tasks would mix their tracebacks.
    """
    if isinstance(error, ConnectionLost):
        copy = ConnectionLost(
            str(error),
            reason_code=error.reason_code,
            by_server=error.by_server,
            server_reference=error.server_reference,
        )
    else:
        copy = ConnectionLost(f"connection lost: {error}")
    copy.__cause__ = error
    return copy


def closed_error(status: Status, final_error: ClientError | None) -> ClientClosed:
    """The `ClientClosed` for a call on a client that is not connected (nor reconnecting)."""
    if final_error is not None:
        error = ClientClosed(f"the client is closed: {final_error}")
        error.__cause__ = final_error
        return error
    return ClientClosed(f"the client is {status}")


def fail_pending(
    results: Results, error: ClientError | None, reason: str = "the client disconnected"
) -> None:
    """Fail every operation still waiting once a client is finished: after a loss with a
    fresh `ConnectionLost` per caller (see `lost_error`), else with ``ClientClosed(reason)``."""
    if error is not None:
        cause = error
        results.fail_all(lambda: lost_error(cause))
    else:
        results.fail_all(lambda: ClientClosed(reason))


class CallChecks:
    """What the threading and anyio clients check before they take a call from the
    application. A client class sets ``_status``, ``_final_error``, ``_session``, ``_max_queued``
    and the byte counts ``_out_size`` (waiting for the socket) and ``_unflushed`` (queued in the
    engine since its last flush)."""

    _status: Status
    _final_error: ClientError | None
    _session: ClientSession
    _max_queued: int
    _out_size: int
    _unflushed: int

    def _check_usable(self) -> None:
        """Raise `closed_error` unless the client is connecting, connected or reconnecting."""
        if self._status in ("initialized", "closed"):
            raise closed_error(self._status, self._final_error)

    def _check_not_lost(self) -> None:
        """After a wait that began on a usable client (for room to publish): raise a fresh
        `ConnectionLost` if the connection ended for good meanwhile, the error the caller's
        operation documents for that end."""
        if self._status == "closed" and self._final_error is not None:
            raise lost_error(self._final_error)

    def _has_room(self) -> bool:
        """Whether a publish may go ahead: the bytes waiting stay under `WRITE_HIGH_WATER`
        and the engine's queue under ``max_queued`` (else the publisher waits for room)."""
        return (
            self._out_size < WRITE_HIGH_WATER
            and self._unflushed < WRITE_HIGH_WATER
            and self._session.queued_count < self._max_queued
        )


class StateViews:
    """Read-only views of a client's state, the same in every adapter (emqtt's
    ``subscriptions/1`` and ``info/2``). A client class sets ``_session``, ``_queue`` and
    ``_read_paused``."""

    _session: ClientSession
    _queue: deque[Any]
    _read_paused: bool

    @property
    def subscriptions(self) -> Mapping[str, SubscriptionInfo]:
        """Acknowledged subscriptions by topic filter, a live read-only view of the engine's
        table."""
        return self._session.subscriptions

    @property
    def inflight_count(self) -> int:
        """Outgoing QoS 1/2 messages awaiting acknowledgement (emqtt's ``n_inflight``)."""
        return self._session.inflight_count

    @property
    def queued_count(self) -> int:
        """Publishes waiting for room in the window or for a connection (``n_queued``)."""
        return self._session.queued_count

    @property
    def pending_messages(self) -> int:
        """Received messages waiting in the queue for the application."""
        return len(self._queue)

    @property
    def reading_paused(self) -> bool:
        """Whether reading from the network is paused because the message queue is full."""
        return self._read_paused
