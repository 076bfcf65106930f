"""The asyncio MQTT client.

::

    from adapters.asyncio import Client

    async with Client.from_url("mqtt://localhost") as client:
        await client.subscribe("a/#", qos=1)
        result = await client.publish("a/b", b"hello", qos=1)
        async for message in client.messages():
            ...

See `Client` for the API and docs/adapters.md for the options.
"""

from __future__ import annotations

from adapters import _exports, errors
from adapters._exports import *  # noqa: F403  (the names every adapter shares)
from adapters.asyncio._client import Client, Message
from adapters.errors import *  # noqa: F403  (every client error)

__all__ = ["Client", "Message"]
__all__ += _exports.__all__
__all__ += errors.__all__
