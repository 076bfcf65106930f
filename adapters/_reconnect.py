"""Reconnect policy: exponential backoff with jitter, failover across hosts, redirection.

Pure bookkeeping with injected randomness and no clock: the adapters ask which endpoint to try
next and how long to wait, then do the waiting themselves.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from adapters._options import Endpoint, parse_endpoint
from adapters.errors import InvalidOptions

__all__ = ["ConnectPlan", "ReconnectPolicy", "policy_from_option"]

#: How many server redirections (MQTT 5 Server Reference) are followed in a row before the
#: client treats the next one as a failure: two servers pointing at each other must not loop.
MAX_REDIRECTS = 5


@dataclass(frozen=True)
class ReconnectPolicy:
    """When and how often a client reconnects after losing its connection.

    The delay before the n-th attempt of a round (n = 0, 1, ...) is
    ``min(max_delay, initial_delay * multiplier ** n)``, then reduced by a random fraction of
    up to ``jitter`` of itself so that many clients cut off together do not return together.

    Attributes:
        max_attempts: Rounds of attempts after a connection is lost before the client gives
            up (``None``: never give up). A round tries every host once, in order.
        initial_delay: Seconds before the first attempt after a loss.
        max_delay: Upper bound of the delay, in seconds.
        multiplier: Growth factor of the delay from one failed round to the next.
        jitter: Fraction (0 to 1) of the delay that is randomised away.
        random: Source of randomness for the jitter (``random.random`` if not given): returns
            a float in [0, 1).
    """

    max_attempts: int | None = None
    initial_delay: float = 0.5
    max_delay: float = 30.0
    multiplier: float = 2.0
    jitter: float = 0.5
    random: Callable[[], float] = field(default=random.random, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.max_attempts is not None and (
            isinstance(self.max_attempts, bool)
            or not isinstance(self.max_attempts, int)
            or self.max_attempts < 0
        ):
            raise InvalidOptions(f"max_attempts must be None or >= 0, not {self.max_attempts!r}")
        for name in ("initial_delay", "max_delay"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise InvalidOptions(f"{name} must be a number >= 0, not {value!r}")
        if not isinstance(self.multiplier, int | float) or self.multiplier < 1:
            raise InvalidOptions(f"multiplier must be >= 1, not {self.multiplier!r}")
        if not isinstance(self.jitter, int | float) or not 0 <= self.jitter <= 1:
            raise InvalidOptions(f"jitter must be between 0 and 1, not {self.jitter!r}")

    def delay(self, failures: int) -> float:
        """Seconds to wait before the round that follows ``failures`` failed rounds."""
        # Cap the exponent: the float would overflow long before the cap matters.
        base = min(self.max_delay, self.initial_delay * self.multiplier ** min(failures, 64))
        return base * (1.0 - self.jitter * self.random())


def policy_from_option(value: bool | int | ReconnectPolicy | None) -> ReconnectPolicy | None:
    """Interpret the ``reconnect`` client option, as emqtt's ``reconnect``.

    ``False``/``None``/``0``: no reconnect. ``True``: reconnect forever with the default
    backoff. A positive int: that many rounds of attempts. A `ReconnectPolicy`: as given.

    Raises:
        InvalidOptions: any other value.
    """
    if value is None or value is False:
        return None
    if value is True:
        return ReconnectPolicy()
    if isinstance(value, ReconnectPolicy):
        return value
    if isinstance(value, int) and value >= 0:
        return ReconnectPolicy(max_attempts=value) if value else None
    raise InvalidOptions(f"reconnect must be a bool, an int >= 0 or a ReconnectPolicy: {value!r}")


class ConnectPlan:
    """The order of connection attempts across ``hosts``, with backoff and redirections.

    One instance lives as long as its client. The adapter loop is::

        plan.start_round()
        while (endpoint := plan.next_endpoint()) is not None:
            try: connect(endpoint) ... ; plan.succeeded(); break
            except ConnectError as exc: plan.failed(exc)   # or plan.redirect(...)
        else: delay = plan.next_delay()   # None: give up; else sleep and start a new round

    Hosts are tried in the order given (emqtt folds its list and tries it in reverse).
    A redirection (CONNACK or DISCONNECT 0x9C Use another server / 0x9D Server moved, with a
    Server Reference) inserts the referenced server as the next endpoint to try, without delay;
    0x9D also replaces the first host for later rounds.
    """

    def __init__(
        self, endpoints: Sequence[Endpoint], policy: ReconnectPolicy | None, default_port: int
    ) -> None:
        if not endpoints:
            raise InvalidOptions("at least one host is needed")
        self._endpoints = list(endpoints)
        self._policy = policy
        self._default_port = default_port
        self._queue: list[Endpoint] = []
        self._failed_rounds = 0
        self._redirects = 0
        self.last_error: BaseException | None = None
        self.current: Endpoint | None = None

    @property
    def endpoints(self) -> tuple[Endpoint, ...]:
        """The hosts tried in each round, in order."""
        return tuple(self._endpoints)

    @property
    def policy(self) -> ReconnectPolicy | None:
        """The reconnect policy (``None``: connection loss is final)."""
        return self._policy

    def start_round(self) -> None:
        """Begin a round: every host once, in order (after any pending redirection)."""
        self._queue = self._queue + list(self._endpoints)

    def next_endpoint(self) -> Endpoint | None:
        """The endpoint to try now, or ``None`` when the round is exhausted."""
        if not self._queue:
            self.current = None
            return None
        self.current = self._queue.pop(0)
        return self.current

    def failed(self, error: BaseException) -> None:
        """Record that the attempt on the current endpoint failed with ``error``."""
        self.last_error = error

    def succeeded(self) -> None:
        """Record a successful connection: the backoff starts over.

        The count of redirections in a row does not: a server that accepts and then sends
        the client away (DISCONNECT 0x9C) must not make it bounce without delay forever.
        """
        self._failed_rounds = 0
        self._queue = []
        self.last_error = None

    def redirect(self, server_reference: str, *, permanent: bool) -> bool:
        """Follow a Server Reference: its first server becomes the next endpoint to try.

        MQTT 5 leaves the reference's format open; the common ``host[:port]`` form is used,
        and when it lists several servers separated by spaces the first one is taken.

        Returns:
            Whether the redirection is followed (``False`` when the reference cannot be parsed
            or more than `MAX_REDIRECTS` happened since the last backoff delay).
        """
        self._redirects += 1
        if self._redirects > MAX_REDIRECTS:
            return False
        words = server_reference.split()
        first = words[0] if words else ""
        try:
            target = parse_endpoint(first, self._default_port)
        except InvalidOptions:
            return False
        if permanent:
            self._endpoints[0] = target
        self._queue.insert(0, target)
        return True

    def next_delay(self) -> float | None:
        """After a round failed: seconds to wait before the next one, or ``None`` to give up."""
        policy = self._policy
        if policy is None:
            return None
        if policy.max_attempts is not None and self._failed_rounds >= policy.max_attempts:
            return None
        delay = policy.delay(self._failed_rounds)
        self._failed_rounds += 1
        self._redirects = 0
        return delay
