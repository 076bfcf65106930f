"""A StatsD reporter: plain (Etsy) StatsD or DogStatsD over UDP (or a Unix datagram socket).

========================  ==============================  ==============================
metric definition         standard formatter              ``formatter="datadog"``
========================  ==============================  ==============================
``counter``               ``name:1|c``                    ``name:1|c``
``sum``                   ``name:+v|g`` (gauge delta);    ``name:v|c``
                          ``name:v|c`` with
                          ``report_as="counter"``
``last_value``            ``name:v|g``                    ``name:v|g``
``summary``               ``name:v|ms``                   ``name:v|h``
``distribution``          ``name:v|ms``                   ``name:v|d``
========================  ==============================  ==============================

The standard formatter rounds values to integers and appends tag values to the name, in the
order the tags are declared (``db.query.count.users.select``); DogStatsD writes tags as
``|#key:value``. ``reporter_options={"sampling_rate": 0.1}`` samples on the client and appends
``|@0.1``; ``global_tags`` fill listed tags the metadata lacks.

The emitting thread only formats a line and appends it to a bounded buffer; a background
thread coalesces lines into datagrams of at most ``mtu`` bytes and sends them every
``flush_interval`` seconds (sooner when the buffer fills up). A full buffer drops the line and
counts it in :attr:`StatsdReporter.dropped`; a line longer than ``mtu`` is dropped and counted
in :attr:`StatsdReporter.oversized`; nothing raises into the emitter.
"""

from __future__ import annotations

import logging
import random
import re
import socket
import threading
from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any, Literal, TypeVar

from telemetry.metrics import Metric
from telemetry.reporters import Reporter

__all__ = ["StatsdReporter"]

_logger = logging.getLogger("telemetry.reporters")

_S = TypeVar("_S", bound="StatsdReporter")

# Characters that would break a StatsD line (separators of its grammar) or a DogStatsD tag list.
_UNSAFE = re.compile(r"[:|@#,\s]")

_STANDARD_TYPES = {"summary": "ms", "distribution": "ms"}
_DATADOG_TYPES = {"summary": "h", "distribution": "d"}


def _clean(text: str) -> str:
    return _UNSAFE.sub("_", text)


def _tag_text(value: Any) -> str:
    if value is None:
        return "nil"
    if isinstance(value, (bytes, bytearray)):
        return _clean(bytes(value).decode("utf-8", "replace"))
    return _clean(value if isinstance(value, str) else str(value))


def _number(value: float) -> str:
    if isinstance(value, int):
        return str(value)
    if value.is_integer():
        return str(int(value))
    text = repr(value)
    return text if "e" not in text else f"{value:.9f}".rstrip("0").rstrip(".")


class StatsdReporter(Reporter):
    """Sends metric values to a StatsD server, batched into datagrams by a background thread."""

    def __init__(
        self,
        metrics: Iterable[Metric],
        *,
        host: str = "127.0.0.1",
        port: int = 8125,
        socket_path: str | None = None,
        prefix: str | None = None,
        formatter: Literal["standard", "datadog"] = "standard",
        global_tags: Mapping[str, Any] | None = None,
        mtu: int = 512,
        flush_interval: float = 0.1,
        buffer_size: int = 10_000,
    ) -> None:
        super().__init__(metrics)
        if formatter not in ("standard", "datadog"):
            raise ValueError(f"formatter is 'standard' or 'datadog', got {formatter!r}")
        if mtu < 16 or buffer_size < 1 or flush_interval <= 0:
            raise ValueError("mtu >= 16, buffer_size >= 1 and flush_interval > 0 are required")
        self.formatter = formatter
        self.mtu = mtu
        self.flush_interval = flush_interval
        self.buffer_size = buffer_size
        self.tag_defaults = dict(global_tags) if global_tags else None
        self._prefix = f"{_clean(prefix)}." if prefix else ""
        if socket_path is not None:
            self._family = socket.AF_UNIX
            self._address: Any = socket_path
        else:
            family, _, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0]
            self._family, self._address = family, address
        self._names = {m: self._prefix + ".".join(_clean(s) for s in m.name) for m in self.metrics}
        self._buffer: deque[bytes] = deque()
        self._wake_at = max(1, buffer_size // 2)
        self._wake = threading.Event()
        self._stopping = False
        self._send_lock = threading.Lock()
        self._count_lock = threading.Lock()
        self._socket: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._dropped = 0
        self._oversized = 0
        self.send_errors = 0
        """Datagrams the operating system refused to send."""
        self.packets_sent = 0
        """Datagrams sent."""
        self.lines_sent = 0
        """Metric lines sent."""

    # --- lifecycle -------------------------------------------------------------------------

    def start(self: _S) -> _S:
        super().start()
        with self._send_lock:
            if self._socket is None:
                self._socket = socket.socket(self._family, socket.SOCK_DGRAM)
                self._thread = threading.Thread(
                    target=self._run, name="telemetry-statsd-flusher", daemon=True
                )
                self._thread.start()
        return self

    def _close(self) -> None:
        self._stopping = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=max(5.0, 2 * self.flush_interval))
        self.flush()
        with self._send_lock:
            if self._socket is not None:
                self._socket.close()

    def _run(self) -> None:
        while not self._stopping:
            self._wake.wait(self.flush_interval)
            self._wake.clear()
            self.flush()

    # --- the emitting side -----------------------------------------------------------------

    def record(self, metric: Metric, value: Any, tags: dict[str, Any]) -> None:
        options = metric.reporter_options
        rate = options.get("sampling_rate")
        if rate is not None and rate < 1 and random.random() >= rate:
            return
        line = self._format(metric, value, tags)
        if rate is not None and rate < 1:
            line = _append_rate(line, rate, self.formatter)
        data = line.encode("utf-8")
        if len(data) > self.mtu:
            # telemetry_metrics_statsd raised here, which detached the whole handler: drop the
            # one line instead.
            with self._count_lock:
                self._oversized += 1
            raise ValueError(f"a {len(data)}-byte line exceeds the {self.mtu}-byte mtu")
        buffer = self._buffer
        if len(buffer) >= self.buffer_size:
            with self._count_lock:
                self._dropped += 1
            return
        buffer.append(data)
        if len(buffer) == self._wake_at:
            self._wake.set()

    def _format(self, metric: Metric, value: Any, tags: dict[str, Any]) -> str:
        name = self._names[metric]
        kind = metric.kind
        datadog = self.formatter == "datadog"
        if not datadog and tags:
            segments = [_tag_text(v) for v in tags.values()]
            if not all(segments):
                raise ValueError("an empty tag value cannot be a StatsD name segment")
            name = f"{name}.{'.'.join(segments)}"
        suffix = ""
        if datadog and tags:
            suffix = "|#" + ",".join(f"{_clean(str(k))}:{_tag_text(v)}" for k, v in tags.items())
        if not datadog:
            value = round(value) if kind != "counter" else value
        if kind == "counter":
            body = "1|c"
        elif kind == "sum":
            if datadog or metric.reporter_options.get("report_as") == "counter":
                if value < 0:
                    raise ValueError("a sum reported as a counter cannot decrease")
                body = f"{_number(value)}|c"
            else:
                body = f"{'-' if value < 0 else '+'}{_number(abs(value))}|g"
        elif kind == "last_value":
            if value < 0 and not datadog:
                # A leading sign makes a plain StatsD gauge a delta: set 0 first, then subtract.
                return f"{name}:0|g\n{name}:{_number(value)}|g"
            body = f"{_number(value)}|g"
        else:
            kinds = _DATADOG_TYPES if datadog else _STANDARD_TYPES
            body = f"{_number(value)}|{kinds[kind]}"
        return f"{name}:{body}{suffix}"

    # --- the sending side ------------------------------------------------------------------

    def flush(self) -> None:
        """Send everything buffered now, from the calling thread."""
        with self._send_lock:
            sock = self._socket
            if sock is None or sock.fileno() < 0:
                return
            buffer = self._buffer
            packet: list[bytes] = []
            size = 0
            while buffer:
                line = buffer.popleft()
                if packet and size + 1 + len(line) > self.mtu:
                    self._send(sock, packet)
                    packet, size = [], 0
                size += len(line) + (1 if packet else 0)
                packet.append(line)
            if packet:
                self._send(sock, packet)

    def _send(self, sock: socket.socket, lines: list[bytes]) -> None:
        try:
            sock.sendto(b"\n".join(lines), self._address)
        except OSError as exc:
            self.send_errors += 1
            _logger.log(
                logging.WARNING if self.send_errors == 1 else logging.DEBUG,
                "StatsdReporter could not send to %r: %s",
                self._address,
                exc,
            )
            return
        self.packets_sent += 1
        self.lines_sent += len(lines)

    @property
    def dropped(self) -> int:
        """Lines dropped because the buffer was full."""
        with self._count_lock:
            return self._dropped

    @property
    def oversized(self) -> int:
        """Lines dropped because they were longer than the mtu."""
        with self._count_lock:
            return self._oversized


def _append_rate(line: str, rate: float, formatter: str) -> str:
    parts = []
    for single in line.split("\n"):
        if formatter == "datadog" and "|#" in single:
            head, tags = single.split("|#", 1)
            parts.append(f"{head}|@{rate}|#{tags}")
        else:
            parts.append(f"{single}|@{rate}")
    return "\n".join(parts)
