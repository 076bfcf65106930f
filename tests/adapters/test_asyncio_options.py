"""The shared adapter layer's option model: URLs, endpoints, reconnect policy (no network)."""

from __future__ import annotations

import pytest

from adapters._options import Endpoint, parse_endpoint, parse_url
from adapters._reconnect import ConnectPlan, ReconnectPolicy, policy_from_option
from adapters.errors import InvalidOptions


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("mqtt://broker", {"transport": "tcp", "host": "broker", "port": 1883}),
        ("mqtts://broker", {"transport": "ssl", "host": "broker", "port": 8883}),
        ("ws://broker", {"transport": "ws", "host": "broker", "port": 8083}),
        ("wss://broker", {"transport": "wss", "host": "broker", "port": 8084}),
        ("quic://broker", {"transport": "quic", "host": "broker", "port": 14567}),
        ("mqtt://broker:1999/", {"transport": "tcp", "host": "broker", "port": 1999}),
        ("mqtt://[::1]:1884", {"transport": "tcp", "host": "::1", "port": 1884}),
        (
            "ws://u%40x:p%3Ass@h:80/custom/path",
            {
                "transport": "ws",
                "host": "h",
                "port": 80,
                "username": "u@x",
                "password": "p:ss",
                "ws_path": "/custom/path",
            },
        ),
    ],
)
def test_parse_url(url: str, expected: dict[str, object]) -> None:
    assert parse_url(url) == expected


@pytest.mark.parametrize(
    "url",
    ["http://broker", "mqtt://", "mqtt://h:99999", "mqtt://h/path", "mqtt://h?x=1", "mqtt://h:0"],
)
def test_parse_url_rejects_bad_urls(url: str) -> None:
    with pytest.raises(InvalidOptions):
        parse_url(url)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("h", Endpoint("h", 1883)),
        ("h:2000", Endpoint("h", 2000)),
        ("[::1]:2000", Endpoint("::1", 2000)),
        ("[::1]", Endpoint("::1", 1883)),
        ("fe80::1", Endpoint("fe80::1", 1883)),
        (("h", 7), Endpoint("h", 7)),
    ],
)
def test_parse_endpoint(text: str | tuple[str, int], expected: Endpoint) -> None:
    assert parse_endpoint(text, 1883) == expected


@pytest.mark.parametrize("text", ["", "h:x", "[::1", "[::1]x", ("h",), ("h", 0)])
def test_parse_endpoint_rejects(text: object) -> None:
    with pytest.raises(InvalidOptions):
        parse_endpoint(text, 1883)  # type: ignore[arg-type]


def test_backoff_grows_is_capped_and_jittered() -> None:
    policy = ReconnectPolicy(initial_delay=1, max_delay=10, multiplier=2, jitter=0.5,
                             random=lambda: 1.0)
    assert [policy.delay(n) for n in range(6)] == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0]
    no_jitter = ReconnectPolicy(initial_delay=1, max_delay=10, jitter=0.5, random=lambda: 0.0)
    assert [no_jitter.delay(n) for n in range(5)] == [1, 2, 4, 8, 10]
    assert no_jitter.delay(10_000) == 10


def test_reconnect_option_forms() -> None:
    assert policy_from_option(False) is None
    assert policy_from_option(0) is None
    assert policy_from_option(True) == ReconnectPolicy()
    assert policy_from_option(3) == ReconnectPolicy(max_attempts=3)
    with pytest.raises(InvalidOptions):
        policy_from_option(-1)
    with pytest.raises(InvalidOptions):
        ReconnectPolicy(jitter=2)


def test_plan_tries_hosts_in_the_given_order_and_gives_up() -> None:
    hosts = [Endpoint("a", 1), Endpoint("b", 2)]
    plan = ConnectPlan(hosts, ReconnectPolicy(max_attempts=2, random=lambda: 0.0), 1883)
    plan.start_round()
    assert [plan.next_endpoint(), plan.next_endpoint(), plan.next_endpoint()] == [*hosts, None]
    assert plan.next_delay() == 0.5
    assert plan.next_delay() == 1.0
    assert plan.next_delay() is None


def test_plan_follows_redirection_first_and_bounds_loops() -> None:
    plan = ConnectPlan([Endpoint("a", 1)], None, 1883)
    plan.start_round()
    assert plan.next_endpoint() == Endpoint("a", 1)
    assert plan.redirect("other:1999 third", permanent=False)
    assert plan.next_endpoint() == Endpoint("other", 1999)
    assert plan.redirect("moved", permanent=True)
    assert plan.next_endpoint() == Endpoint("moved", 1883)
    plan.start_round()
    assert plan.next_endpoint() == Endpoint("moved", 1883)
    assert all(plan.redirect("x", permanent=False) for _ in range(3))
    assert not plan.redirect("x", permanent=False)  # the sixth in a row is refused
    assert not ConnectPlan([Endpoint("a", 1)], None, 1).redirect("[bad", permanent=False)


def test_redirections_in_a_row_are_bounded_across_successful_connections() -> None:
    """A server that accepts and then redirects must not bounce the client without delay
    forever: the redirect count survives a success and restarts only after a backoff."""
    plan = ConnectPlan([Endpoint("a", 1)], ReconnectPolicy(random=lambda: 0.0), 1883)
    for _ in range(5):
        plan.succeeded()
        assert plan.redirect("b", permanent=False)
    plan.succeeded()
    assert not plan.redirect("b", permanent=False)
    assert plan.next_delay() == 0.5
    assert plan.redirect("b", permanent=False)


def test_options_never_show_the_password() -> None:
    from adapters.asyncio import Client

    client = Client("h", client_id="x", username="u", password="s3cret-pw")
    assert "s3cret-pw" not in repr(client.options)
    assert "s3cret-pw" not in repr(client)
    assert client.options.config.password == b"s3cret-pw"  # still what is sent


def test_subscription_forms() -> None:
    from adapters._client import subscriptions_from
    from emqtt_core.enums import QoS, RetainHandling
    from emqtt_core.packets import Subscription

    def subs(topic: object, qos: int = 1) -> list[tuple[str, int]]:
        result = subscriptions_from(
            topic,  # type: ignore[arg-type]
            qos=qos,
            no_local=False,
            retain_as_published=False,
            retain_handling=0,
        )
        return [(s.topic_filter, int(s.qos)) for s in result]

    assert subs("a/#") == [("a/#", 1)]
    assert subs(("a", 2)) == [("a", 2)]
    assert subs(["a", ("b", 0), Subscription(topic_filter="c", qos=QoS.EXACTLY_ONCE)]) == [
        ("a", 1),
        ("b", 0),
        ("c", 2),
    ]
    full = subscriptions_from(
        "x", qos=0, no_local=True, retain_as_published=True, retain_handling=2
    )[0]
    assert (full.no_local, full.retain_as_published) == (True, True)
    assert full.retain_handling is RetainHandling.DO_NOT_SEND
    for bad in ([], ["a", 3], [("a", 5)], 7):
        with pytest.raises(InvalidOptions):
            subs(bad)
    with pytest.raises(InvalidOptions):
        subs("a", qos=3)


def test_properties_from_mappings() -> None:
    from adapters._client import properties_from

    props = properties_from(
        {"user_property": {"k": "v"}, "content_type": "text/plain"}, "PUBLISH"
    )
    assert props.user_property == (("k", "v"),)
    assert props.content_type == "text/plain"
    assert properties_from(props, "PUBLISH") is props
    for bad in ({"user_property": [("k",)]}, {"user_property": [("k", 1)]}, 3):
        with pytest.raises(InvalidOptions):
            properties_from(bad, "PUBLISH")  # type: ignore[arg-type]


def test_subscription_identifiers_one_or_many() -> None:
    from adapters._client import properties_from

    one = properties_from({"subscription_identifier": 7}, "SUBSCRIBE")
    assert one.subscription_identifier == (7,)
    many = properties_from({"subscription_identifier": [1, 2]}, "PUBLISH")
    assert many.subscription_identifier == (1, 2)
    for bad in ("7", [1, "2"], 1.5):
        with pytest.raises(InvalidOptions):
            properties_from({"subscription_identifier": bad}, "SUBSCRIBE")


class _Waiter:
    """A minimal waiter (what `adapters._results.Waiter` asks of a future)."""

    def __init__(self) -> None:
        self.result: object = None
        self.error: BaseException | None = None
        self.finished = False

    def done(self) -> bool:
        return self.finished

    def set_result(self, result: object) -> None:
        self.result, self.finished = result, True

    def set_exception(self, error: BaseException) -> None:
        self.error, self.finished = error, True


def test_results_expire_in_order_with_virtual_time() -> None:
    from adapters._results import Results
    from adapters.errors import AckTimeout

    cancelled: list[int] = []
    results = Results(10.0, cancelled.append)
    publish, subscribe, ping = _Waiter(), _Waiter(), _Waiter()
    results.add_publish(1, publish, now=0.0)
    results.add_subscribe(7, subscribe, now=1.0)
    results.add_ping(ping, now=2.0)
    assert results.next_deadline() == 10.0
    results.expire(9.9)
    assert not publish.finished
    results.expire(10.5)
    assert isinstance(publish.error, AckTimeout) and publish.error.operation == "publish"
    assert cancelled == [1]
    assert not subscribe.finished
    results.resolve(results.subscribes.pop(7), "codes")
    results.expire(12.5)
    assert subscribe.result == "codes"
    assert isinstance(ping.error, AckTimeout) and ping.error.operation == "ping"
    assert results.pending == 0
    assert results.next_deadline() is None


def test_results_keep_a_bounded_deadline_queue_under_a_steady_flow() -> None:
    """Completed publishes leave the deadline FIFO as the flow goes on, without a timer."""
    from adapters._results import Results

    results = Results(30.0)
    for ticket in range(100_000):
        results.add_publish(ticket, _Waiter(), now=ticket / 1000)
        results.resolve(results.publishes.pop(ticket), None)
    assert len(results._deadlines) <= 2048


def test_results_fail_calls_but_keep_publishes_on_a_lost_connection() -> None:
    from adapters._results import Results

    results = Results(30.0)
    publish, subscribe, unsubscribe, ping, reauth = (_Waiter() for _ in range(5))
    results.add_publish(1, publish, 0.0)
    results.add_subscribe(2, subscribe, 0.0)
    results.add_unsubscribe(3, unsubscribe, 0.0)
    results.add_ping(ping, 0.0)
    results.add_reauth(reauth, 0.0)
    results.fail_calls(lambda: RuntimeError("lost"))
    assert all(w.error is not None for w in (subscribe, unsubscribe, ping, reauth))
    assert not publish.finished and results.pending == 1
    results.fail_all(lambda: RuntimeError("closed"))
    assert publish.error is not None and results.pending == 0
