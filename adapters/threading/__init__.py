"""The blocking MQTT client, for threads.

::

    from adapters.threading import Client

    with Client.from_url("mqtt://localhost") as client:
        client.subscribe("a/#", qos=1)
        result = client.publish("a/b", b"hello", qos=1)
        for message in client.messages(timeout=5):
            ...

Every method may be called from any thread. See `Client` for the API and docs/adapters.md
for the options.
"""

from __future__ import annotations

from adapters import _exports, errors
from adapters._exports import *  # noqa: F403  (the names every adapter shares)
from adapters.errors import *  # noqa: F403  (every client error)
from adapters.threading._client import Client, Message, Pending

__all__ = ["Client", "Message", "Pending"]
__all__ += _exports.__all__
__all__ += errors.__all__
