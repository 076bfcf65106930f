"""The anyio client's own guarantees, on asyncio and on trio, against the real broker:
structured concurrency (its tasks live and die with ``async with``, cancellation still
disconnects), concurrent tasks sharing one client, and `Pending` results.

(What every adapter shares, over every transport, is in tests/adapters/parity.)
"""

from __future__ import annotations

import uuid
from typing import Any

import anyio
import pytest
from support.broker import Mosquitto
from support.net import free_tcp_port

from adapters.anyio import Client, ConnectionRefused, Pending, Will
from emqtt_core.enums import QoS

pytestmark = pytest.mark.anyio

#: Bound of every wait, in seconds.
TIMEOUT = 20.0


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    backend: str = request.param
    return backend


def topic() -> str:
    return f"anyio/{uuid.uuid4().hex[:12]}"


def client(broker: Mosquitto, **options: Any) -> Client:
    options.setdefault("ack_timeout", TIMEOUT)
    return Client(broker.host, broker.tcp_port, **options)


async def test_the_client_tasks_end_with_the_block(mosquitto: Mosquitto) -> None:
    before = len(anyio.get_running_tasks())
    async with client(mosquitto) as mqtt:
        assert len(anyio.get_running_tasks()) > before  # pump, lifecycle, reader
        await mqtt.ping()
    assert mqtt.status == "closed"
    assert len(anyio.get_running_tasks()) == before


async def test_a_failed_connection_leaves_no_task(mosquitto: Mosquitto) -> None:
    before = len(anyio.get_running_tasks())
    with pytest.raises(ConnectionRefused):
        async with Client("127.0.0.1", free_tcp_port(), connect_timeout=TIMEOUT):
            pytest.fail("connected to nothing")
    assert len(anyio.get_running_tasks()) == before


async def test_cancellation_of_the_enclosing_scope_still_disconnects(
    mosquitto: Mosquitto,
) -> None:
    name = topic()
    async with client(mosquitto) as watcher:
        await watcher.subscribe(f"{name}/#", qos=1)
        with anyio.move_on_after(0.2) as scope:
            async with client(
                mosquitto, will=Will(topic=f"{name}/will", payload=b"gone", qos=QoS(1))
            ) as cancelled:
                async for _ in cancelled.messages():
                    pytest.fail("nothing was published to it")
        assert scope.cancelled_caught
        assert cancelled.status == "closed"
        # It sent DISCONNECT on its way out: no will [MQTT-3.1.2-10]. The fence is the next
        # message the watcher gets.
        await watcher.publish(f"{name}/fence", b"fence", qos=1)
        with anyio.fail_after(TIMEOUT):
            message = await watcher.messages().__anext__()
        assert message.payload == b"fence"


async def test_an_error_in_the_block_propagates_and_disconnects(mosquitto: Mosquitto) -> None:
    mqtt = client(mosquitto)
    with pytest.raises(ZeroDivisionError):
        async with mqtt:
            await mqtt.ping()
            _ = 1 / 0
    assert mqtt.status == "closed"


async def test_many_tasks_share_one_client(mosquitto: Mosquitto) -> None:
    name = topic()
    tasks, each = 40, 25
    tickets: list[int] = []
    async with client(mosquitto) as mqtt:

        async def publisher(index: int) -> None:
            for n in range(each):
                result = await mqtt.publish(name, b"%d-%d" % (index, n), qos=1)
                assert result.reason_code < 0x80
                tickets.append(result.ticket)

        with anyio.fail_after(TIMEOUT):
            async with anyio.create_task_group() as group:
                for index in range(tasks):
                    group.start_soon(publisher, index)
        assert len(set(tickets)) == tasks * each
        assert mqtt.session.inflight_count == 0


async def test_publish_nowait_returns_a_pending_result(mosquitto: Mosquitto) -> None:
    name = topic()
    async with client(mosquitto) as mqtt:
        await mqtt.subscribe(name, qos=1)
        pending = mqtt.publish_nowait(name, b"later", qos=1)
        assert isinstance(pending, Pending)
        assert not pending.done()
        with pytest.raises(RuntimeError):
            pending.result()
        with anyio.fail_after(TIMEOUT):
            result = await pending
            message = await mqtt.messages().__anext__()
        assert pending.done() and pending.result() is result
        assert result.packet_id is not None
        assert message.payload == b"later"
