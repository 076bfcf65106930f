"""Bad arguments to every public method of a connected client, on every adapter.

Each call must raise the documented error (the engine's `UsageError` or the adapters'
`InvalidOptions`, both `ValueError`) before anything is sent: the scripted server sees
nothing between CONNECT and the PINGREQ the test sends afterwards to prove the connection is
still usable. The server's CONNACK limits what it accepts (MQTT 5), so the arguments that
only that server refuses are covered too.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from hostile_facade import new_client
from hostile_server import ScriptedServer, ServerConnection
from parity_facade import Adapter, SyncClient

from adapters.errors import InvalidOptions
from emqtt_core.exceptions import UsageError
from emqtt_core.packets import ConnAck, Connect, Disconnect, PingReq, PingResp
from emqtt_core.properties import NO_PROPERTIES, Properties
from emqtt_core.reason_codes import ReasonCode

#: What the MQTT 5 server announces in CONNACK: every restriction a client must respect.
SERVER_LIMITS: dict[str, Any] = {
    "maximum_packet_size": 512,
    "retain_available": False,
    "maximum_qos": 1,
    "subscription_identifier_available": False,
    "wildcard_subscription_available": False,
    "shared_subscription_available": False,
}


@dataclass(frozen=True)
class Misuse:
    """One bad call: the client method, its arguments and the error it must raise."""

    name: str
    method: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any] = field(default_factory=dict)
    error: type[Exception] = UsageError
    versions: tuple[int, ...] = (4, 5)


MISUSES = [
    # PUBLISH [MQTT-3.3.2-2]: topic names carry no wildcards; [MQTT-4.7.3-1] nor are empty.
    Misuse("publish-wildcard-plus", "publish", ("a/+", b"x")),
    Misuse("publish-wildcard-hash", "publish", ("a/#", b"x")),
    Misuse("publish-empty-topic", "publish", ("", b"x")),
    Misuse("publish-topic-with-u0000", "publish", ("a/\x00", b"x")),  # [MQTT-1.5.4-2]
    Misuse("publish-topic-surrogate", "publish", ("a/\ud800", b"x")),  # [MQTT-1.5.4-1]
    Misuse("publish-topic-too-long", "publish", ("t" * 65536, b"x")),  # [MQTT-1.5.4-3]
    Misuse("publish-topic-bytes", "publish", (b"a/b", b"x")),
    Misuse("publish-qos-3", "publish", ("a/b", b"x"), {"qos": 3}),
    Misuse("publish-qos-negative", "publish", ("a/b", b"x"), {"qos": -1}),
    Misuse("publish-qos-str", "publish", ("a/b", b"x"), {"qos": "1"}),
    Misuse("publish-payload-str", "publish", ("a/b", "text")),
    Misuse("publish-payload-int", "publish", ("a/b", 42)),
    Misuse("publish-nowait-wildcard", "publish_nowait", ("a/#", b"x")),
    Misuse("publish-nowait-qos-3", "publish_nowait", ("a/b", b"x"), {"qos": 3}),
    Misuse(
        "publish-properties-on-3.1.1",
        "publish",
        ("a/b", b"x"),
        {"properties": {"content_type": "text/plain"}},
        versions=(4,),
    ),
    Misuse(
        "publish-unknown-property",
        "publish",
        ("a/b", b"x"),
        {"properties": {"colour": "red"}},
        InvalidOptions,
    ),
    # Properties a client may not put on PUBLISH: the session manages aliases; the
    # Subscription Identifier is the server's [MQTT-3.3.4-6]; Receive Maximum is CONNECT's.
    *(
        Misuse(
            f"publish-property-{name}",
            "publish",
            ("a/b", b"x"),
            {"properties": {name: value}},
            versions=(5,),
        )
        for name, value in (
            ("topic_alias", 1),
            ("subscription_identifier", (1,)),
            ("receive_maximum", 10),
            ("session_expiry_interval", 10),
        )
    ),
    # What this server refuses in CONNACK (MQTT 5 only).
    Misuse(
        "publish-over-maximum-packet-size", "publish", ("a/b", b"x" * 600), versions=(5,)
    ),  # [MQTT-3.2.2-15]
    Misuse(
        "publish-retain-unavailable", "publish", ("a/b", b"x"), {"retain": True}, versions=(5,)
    ),  # [MQTT-3.2.2-14]
    Misuse(
        "publish-qos-above-maximum", "publish", ("a/b", b"x"), {"qos": 2}, versions=(5,)
    ),  # [MQTT-3.2.2-11]
    # SUBSCRIBE: filter syntax [MQTT-4.7.1-1] [MQTT-4.7.1-2], QoS and options.
    Misuse("subscribe-hash-not-last", "subscribe", ("a/#/b",)),
    Misuse("subscribe-plus-inside-a-level", "subscribe", ("a+/b",)),
    Misuse("subscribe-empty-filter", "subscribe", ("",)),  # [MQTT-4.7.3-1]
    Misuse("subscribe-qos-3", "subscribe", ("a/b", 3), error=InvalidOptions),
    Misuse(
        "subscribe-retain-handling-3",
        "subscribe",
        ("a/b",),
        {"retain_handling": 3},
        InvalidOptions,
        (5,),
    ),
    Misuse("subscribe-no-filters", "subscribe", ([],), error=InvalidOptions),
    Misuse("subscribe-not-a-filter", "subscribe", (42,), error=InvalidOptions),
    Misuse("subscribe-no-local-on-3.1.1", "subscribe", ("a/b",), {"no_local": True}, versions=(4,)),
    Misuse(
        "subscribe-identifier-unavailable",  # section 3.2.2.3.12
        "subscribe",
        ("a/b",),
        {"properties": {"subscription_identifier": (7,)}},
        versions=(5,),
    ),
    Misuse("subscribe-wildcard-unavailable", "subscribe", ("a/+",), versions=(5,)),  # 3.2.2.3.11
    Misuse(
        "subscribe-shared-unavailable", "subscribe", ("$share/g/a",), versions=(5,)
    ),  # 3.2.2.3.13
    # UNSUBSCRIBE.
    Misuse("unsubscribe-hash-not-last", "unsubscribe", ("a/#/b",)),
    Misuse("unsubscribe-empty-filter", "unsubscribe", ("",)),
    Misuse("unsubscribe-no-filters", "unsubscribe", ([],)),
    Misuse(
        "unsubscribe-property-not-allowed",
        "unsubscribe",
        ("a/b",),
        {"properties": {"content_type": "x"}},
        versions=(5,),
    ),
    # DISCONNECT.
    Misuse(
        "disconnect-reason-not-for-disconnect",
        "disconnect",
        (),
        {"reason_code": ReasonCode.GRANTED_QOS_1},
        versions=(5,),
    ),
    Misuse(
        "disconnect-session-expiry-from-zero",  # [MQTT-3.14.2-2]
        "disconnect",
        (),
        {"properties": {"session_expiry_interval": 60}},
        versions=(5,),
    ),
    Misuse(
        "disconnect-property-not-allowed",
        "disconnect",
        (),
        {"properties": {"topic_alias": 1}},
        versions=(5,),
    ),
    # AUTH: needs MQTT 5 and an authentication method given at CONNECT.
    Misuse("reauthenticate-without-method", "reauthenticate", (b"data",)),
]


CASES = [
    pytest.param(misuse, version, id=f"{misuse.name}-v{version}")
    for misuse in MISUSES
    for version in misuse.versions
]


def call(client: SyncClient, name: str, *args: Any, **kwargs: Any) -> Any:
    """Call a method of the client where it lives (its event loop, for the async ones)."""
    method: Callable[..., Any] = getattr(client.client, name)
    portal = client.adapter.portal
    if portal is None:
        return method(*args, **kwargs)

    async def run() -> Any:
        result = method(*args, **kwargs)
        if inspect.isawaitable(result) and inspect.iscoroutine(result):
            result = await result
        return result

    return portal.call(run)


def _serve_pings(limits: dict[str, Any]) -> Callable[[ServerConnection], None]:
    def script(conn: ServerConnection) -> None:
        conn.expect_connect()
        properties = Properties(**limits) if conn.version == 5 else NO_PROPERTIES
        conn.send(ConnAck(properties=properties))
        while (packet := conn.read_packet()) is not None:
            if isinstance(packet, PingReq):
                conn.send(PingResp())

    return script


@pytest.mark.parametrize(("misuse", "version"), CASES)
def test_bad_argument_raises_before_anything_is_sent(
    adapter: Adapter, misuse: Misuse, version: int
) -> None:
    with (
        ScriptedServer(_serve_pings(SERVER_LIMITS)) as server,
        new_client(adapter, server, version) as client,
    ):
        client.connect()
        with pytest.raises(misuse.error):
            call(client, misuse.method, *misuse.args, **misuse.kwargs)
        assert client.status == "connected"
        client.ping()  # the connection is intact, and nothing went out before this
        client.disconnect()
        conn = server.wait_closed()
        assert [type(p) for p in conn.received] == [Connect, PingReq, Disconnect]
