"""``emqtt``: publish, subscribe and check connections from a shell.

``emqtt pub``, ``emqtt sub`` and ``emqtt connect`` follow EMQX's Erlang ``emqtt`` CLI option for
option, accept the short flags of mosquitto_pub and mosquitto_sub, and run on the asyncio client
over TCP, TLS, WebSocket and QUIC. ``docs/cli.md`` is the reference: flags, formats and the table
of exit statuses.

Run it as ``emqtt ...`` (the console script) or ``python -m adapters.cli ...``; from Python,
``main(["sub", "-t", "a/#", "-C", "1"])`` returns the exit status.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import os
import secrets
import signal
import ssl
import sys
import threading
import time
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from datetime import datetime, timezone
from typing import Any, BinaryIO, TextIO

from adapters._cli_args import (
    ConnectCommand,
    ConnectionSettings,
    PubCommand,
    SubCommand,
    UsageError,
    parse_command,
)
from adapters._cli_errors import (
    ExitCode,
    RejectedError,
    WaitTimeout,
    describe,
    reason_name,
    ssl_reason,
)
from adapters._cli_output import Progress, format_message, jsonable
from adapters._cli_telemetry import TrafficCounters
from adapters._client import properties_from
from adapters.asyncio import Client, PublishResult
from adapters.transports.tls import create_ssl_context
from emqtt_core.enums import QoS
from emqtt_core.packets import Will

__all__ = ["main", "run"]

_logger = logging.getLogger("emqtt.cli")

#: Bytes read from standard input at a time (``pub -l`` and ``pub -s``).
_CHUNK = 65536
#: Most QoS 1/2 publishes of ``pub --repeat`` awaiting their acknowledgement at once when
#: ``--max-inflight`` is not given (the broker's Receive Maximum still applies on top).
DEFAULT_PUBLISH_WINDOW = 100

_TLS_VERSIONS = {
    "tlsv1": ssl.TLSVersion.TLSv1,
    "tlsv1.1": ssl.TLSVersion.TLSv1_1,
    "tlsv1.2": ssl.TLSVersion.TLSv1_2,
    "tlsv1.3": ssl.TLSVersion.TLSv1_3,
}


# --- settings -> client ----------------------------------------------------------------------


def _ssl_context(settings: ConnectionSettings) -> ssl.SSLContext | None:
    tls = settings.tls
    if tls is None or settings.transport == "quic":
        return None
    try:
        context = create_ssl_context(
            cafile=tls.cafile,
            capath=tls.capath,
            certfile=tls.certfile,
            keyfile=tls.keyfile,
            verify=tls.verify,
            check_hostname=tls.check_hostname,
            alpn_protocols=list(tls.alpn) or None,
        )
    except ssl.SSLError as exc:
        raise UsageError(f"cannot load the TLS files: {ssl_reason(exc)}") from None
    except OSError as exc:
        raise UsageError(f"cannot read a TLS file: {exc.strerror or exc}") from None
    if tls.version is not None:
        version = _TLS_VERSIONS[tls.version]
        try:
            context.minimum_version = version
            context.maximum_version = version
        except (ValueError, ssl.SSLError) as exc:
            raise UsageError(f"--tls-version {tls.version} is not available: {exc}") from None
    return context


def _client_id(settings: ConnectionSettings) -> str | None:
    if settings.client_id is not None:
        return settings.client_id
    if settings.client_id_prefix is not None:
        return settings.client_id_prefix + secrets.token_hex(4)
    return None


def client_options(settings: ConnectionSettings) -> dict[str, Any]:
    """The keyword arguments of the asyncio `Client` for these command-line settings."""
    options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "transport": settings.transport,
        "protocol_version": settings.protocol_version,
        "keep_alive": settings.keepalive,
        "clean_start": settings.clean_start,
        "connect_timeout": settings.connect_timeout,
        "telemetry": settings.telemetry,
    }
    client_id = _client_id(settings)
    if client_id is not None:
        options["client_id"] = client_id
    if settings.username is not None:
        options["username"] = settings.username
    if settings.password is not None:
        options["password"] = settings.password
    if settings.session_expiry_interval is not None:
        options["session_expiry_interval"] = settings.session_expiry_interval
    if settings.max_inflight is not None:
        options["max_inflight"] = settings.max_inflight
    if settings.will is not None:
        will = settings.will
        options["will"] = Will(
            topic=will.topic,
            payload=will.payload,
            qos=QoS(will.qos),
            retain=will.retain,
            properties=properties_from(will.properties, "will"),
        )
    if settings.connect_properties:
        options["properties"] = settings.connect_properties
    if settings.transport in ("ws", "wss"):
        options["ws_path"] = settings.ws_path
        if settings.ws_headers:
            options["ws_headers"] = list(settings.ws_headers)
    if settings.bind_address is not None:
        options["local_address"] = (settings.bind_address, 0)
    tls = settings.tls
    if tls is not None:
        if settings.transport == "quic":
            # QUIC builds its own TLS 1.3 from files (an SSLContext cannot hand over a client
            # certificate): the same options, passed to quic_configuration.
            options["quic_options"] = {
                "verify": tls.verify,
                "cafile": tls.cafile,
                "capath": tls.capath,
                "certfile": tls.certfile,
                "keyfile": tls.keyfile,
            }
        else:
            options["ssl_context"] = _ssl_context(settings)
        if tls.server_name is not None:
            options["server_hostname"] = tls.server_name
    return options


# --- output ----------------------------------------------------------------------------------


class _Printer:
    """Writes received messages to stdout in the chosen format, flushing each one so that
    pipes (``| jq``, ``| head``) see them at once."""

    def __init__(self, output: str, show_properties: bool, end_of_line: bool,
                 stream: BinaryIO) -> None:
        self._output = output
        self._show_properties = show_properties
        self._end_of_line = end_of_line
        self._stream = stream
        self.count = 0
        """How many messages were printed."""

    def __call__(self, message: Any) -> None:
        data = format_message(
            message,
            self._output,
            show_properties=self._show_properties,
            end_of_line=self._end_of_line,
            received_at=time.time(),
        )
        self._stream.write(data)
        self._stream.flush()
        self.count += 1


# --- commands --------------------------------------------------------------------------------


def _chunk_reader(stdin: BinaryIO) -> Callable[[], bytes]:
    """A function returning the next chunk of ``stdin`` (``b""`` at its end).

    It reads the file descriptor itself, not the buffered file object: the reading thread may
    still be blocked in it when the program ends, and a thread blocked inside a buffered file
    holds a lock that the interpreter needs at exit.
    """
    try:
        fd = stdin.fileno()
    except (AttributeError, OSError, ValueError):  # an in-memory file: never blocks
        return lambda: stdin.read(_CHUNK)
    return lambda: os.read(fd, _CHUNK)


def _read_in_thread(read: Callable[[], bytes]) -> asyncio.Queue[bytes]:
    """Call ``read`` in a daemon thread until it returns ``b""``, queueing each result (and the
    final ``b""``) for the event loop.

    A daemon thread of its own rather than the loop's executor: a read from a terminal blocks
    until the user types, and an executor thread would keep Ctrl-C from ending the program.
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[bytes] = asyncio.Queue()

    def pump() -> None:
        while True:
            try:
                chunk = read()
            except (OSError, ValueError):  # stdin closed under us
                chunk = b""
            try:
                loop.call_soon_threadsafe(queue.put_nowait, chunk)
            except RuntimeError:  # the loop is closed: the program is ending
                return
            if not chunk:
                return

    threading.Thread(target=pump, name="emqtt-stdin", daemon=True).start()
    return queue


async def _read_lines(stdin: BinaryIO) -> AsyncIterator[bytes]:
    """Lines of standard input as they arrive, without their line ending (``\\n`` or
    ``\\r\\n``); a last line without one counts too."""
    chunks = _read_in_thread(_chunk_reader(stdin))
    buffer = bytearray()
    while chunk := await chunks.get():
        scanned = len(buffer)  # the part before holds no newline
        buffer += chunk
        start = 0
        while (end := buffer.find(b"\n", scanned)) >= 0:
            yield bytes(buffer[start:end]).removesuffix(b"\r")
            start = scanned = end + 1
        del buffer[:start]
    if buffer:
        yield bytes(buffer).removesuffix(b"\r")


async def _read_all(stdin: BinaryIO) -> bytes:
    """All of standard input, read without blocking the event loop."""
    chunks = _read_in_thread(_chunk_reader(stdin))
    data = bytearray()
    while chunk := await chunks.get():
        data += chunk
    return bytes(data)


async def _publish_checked(client: Client, command: PubCommand, payload: bytes) -> None:
    result = await client.publish(
        command.topic,
        payload,
        qos=command.qos,
        retain=command.retain,
        properties=command.properties or None,
    )
    _check_published(command, result)


def _check_published(command: PubCommand, result: PublishResult) -> None:
    code = int(result.reason_code)
    if code >= 0x80:
        raise RejectedError(
            f"the broker refused the message to {command.topic!r}: {reason_name(code)}"
        )


async def _pub(command: PubCommand, client: Client, stdin: BinaryIO, stderr: TextIO) -> int:
    qos = command.qos
    if command.source == "lines":
        async for line in _read_lines(stdin):
            await _publish_checked(client, command, line)
        return ExitCode.OK
    payload = command.message
    if command.source == "stdin":
        payload = await _read_all(stdin)
    show = command.progress
    if show is None:
        show = command.repeat > 1 and stderr.isatty()
    progress = Progress(command.repeat, stderr, time.monotonic) if show else None
    started = time.monotonic()
    try:
        if qos == 0 or command.repeat == 1 or command.repeat_delay:
            for index in range(command.repeat):
                if index and command.repeat_delay:
                    await asyncio.sleep(command.repeat_delay)
                await _publish_checked(client, command, payload)
                if progress is not None:
                    progress.advance()
        else:
            await _publish_window(client, command, payload, progress)
    finally:
        if progress is not None:
            # Also on failure or Ctrl-C: show how far it got, and end the line so that an
            # error message starts on a line of its own.
            progress.finish()
    if command.repeat > 1:
        elapsed = time.monotonic() - started
        _logger.info("published %d messages in %.3f s (%.0f msg/s)", command.repeat, elapsed,
                     command.repeat / elapsed if elapsed > 0 else 0.0)
    return ExitCode.OK


async def _publish_window(client: Client, command: PubCommand, payload: bytes,
                          progress: Progress | None) -> None:
    """Publish ``repeat`` QoS 1/2 messages with up to a window of them unacknowledged, so the
    rate is not bounded by one round trip per message."""
    window = asyncio.Semaphore(command.connection.max_inflight or DEFAULT_PUBLISH_WINDOW)
    failures: list[BaseException] = []
    pending: set[asyncio.Future[Any]] = set()

    def done(future: asyncio.Future[Any]) -> None:
        pending.discard(future)
        window.release()
        if future.cancelled():
            return
        error = future.exception()
        if error is None:
            try:
                _check_published(command, future.result())
            except RejectedError as rejected:
                error = rejected
        if error is not None:
            failures.append(error)
        elif progress is not None:
            progress.advance()

    for _ in range(command.repeat):
        await window.acquire()
        if failures:
            break
        future = client.publish_nowait(
            command.topic, payload, qos=command.qos, retain=command.retain,
            properties=command.properties or None,
        )
        pending.add(future)
        future.add_done_callback(done)
    if pending:
        await asyncio.wait(set(pending))
    if failures:
        raise failures[0]


async def _receive(client: Client, printer: _Printer, *, count: int | None,
                   skip_retained: bool) -> None:
    async for message in client.messages():
        if skip_retained and message.retain:
            continue
        printer(message)
        if count is not None and printer.count >= count:
            return


async def _within(awaitable: Awaitable[None], seconds: float | None) -> bool:
    """Await ``awaitable`` for at most ``seconds`` (None: no limit); False if time ran out.
    The awaited work is cancelled whichever way this ends."""
    task = asyncio.ensure_future(awaitable)
    try:
        done, _ = await asyncio.wait({task}, timeout=seconds)
        if task in done:
            task.result()
            return True
        return False
    finally:
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def _sub(command: SubCommand, client: Client, stdout: BinaryIO) -> int:
    codes = await client.subscribe(
        list(command.topics),
        command.qos,
        no_local=command.no_local,
        retain_as_published=command.retain_as_published,
        retain_handling=command.retain_handling,
        properties=command.properties or None,
    )
    for topic, code in zip(command.topics, codes, strict=False):
        if int(code) >= 0x80:
            raise RejectedError(
                f"the broker refused the subscription to {topic!r}: {reason_name(int(code))}"
            )
    _logger.info("subscribed to %s", " ".join(command.topics))
    printer = _Printer(command.output, command.show_properties, command.end_of_line, stdout)
    receiving = _receive(client, printer, count=command.count,
                         skip_retained=command.skip_retained)
    if await _within(receiving, command.timeout):
        return ExitCode.OK
    wanted = f" of {command.count}" if command.count else ""
    raise WaitTimeout(
        f"timed out after {command.timeout:g} s with {printer.count}{wanted} messages"
    )


async def _connect(command: ConnectCommand, client: Client, stdout: BinaryIO) -> int:
    settings = command.connection
    connected = client.connack
    session_present = connected is not None and connected.session_present
    version = {3: "3.1", 4: "3.1.1", 5: "5"}[settings.protocol_version]
    where = f"[{settings.host}]" if ":" in settings.host else settings.host
    properties: Any = {}
    if connected is not None and settings.protocol_version == 5:
        properties = jsonable(connected.connack.properties)
    if command.output == "json":
        # The same JSON-lines stream as the messages that follow, for a program to read.
        record = {
            "connected": f"{where}:{settings.port}",
            "mqtt": version,
            "session_present": session_present,
            "client_id": client.client_id,
            "properties": properties,
        }
        line = json.dumps(record, ensure_ascii=False)
    else:
        line = (
            f"connected to {where}:{settings.port} (MQTT {version}, "
            f"session present: {'yes' if session_present else 'no'}) as {client.client_id}"
        )
        if properties:
            line += " " + json.dumps(properties, ensure_ascii=False, separators=(",", ":"))
    stdout.write(line.encode("utf-8", "replace") + b"\n")
    stdout.flush()
    printer = _Printer(command.output, command.show_properties, command.end_of_line, stdout)
    # Until interrupted, or -W: the connection held for that long, which is success.
    await _within(_receive(client, printer, count=None, skip_retained=False), command.timeout)
    return ExitCode.OK


async def _with_client(
    settings: ConnectionSettings, body: Callable[[Client], Awaitable[int]]
) -> int:
    client = Client(**client_options(settings))
    async with client:
        _logger.info("connected to %s:%s", settings.host, settings.port)
        status = await body(client)
        if settings.disconnect_properties:
            await client.disconnect(properties=settings.disconnect_properties)
        return status


async def run(
    command: PubCommand | SubCommand | ConnectCommand,
    *,
    stdin: BinaryIO,
    stdout: BinaryIO,
    stderr: TextIO,
) -> int:
    """Run one parsed command to its end and return its exit status.

    Expected failures are raised (see `adapters._cli_errors.describe`); Ctrl-C and SIGTERM
    cancel the command, which disconnects on the way out.
    """
    if isinstance(command, PubCommand):
        return await _with_client(command.connection,
                                  lambda client: _pub(command, client, stdin, stderr))
    if isinstance(command, SubCommand):
        return await _with_client(command.connection, lambda client: _sub(command, client, stdout))
    return await _with_client(command.connection,
                              lambda client: _connect(command, client, stdout))


async def _run_until_signalled(
    command: PubCommand | SubCommand | ConnectCommand,
    stdin: BinaryIO,
    stdout: BinaryIO,
    stderr: TextIO,
) -> int:
    """`run`, cancelled cleanly by SIGINT or SIGTERM (exit 130 or 143)."""
    loop = asyncio.get_running_loop()
    task = asyncio.ensure_future(run(command, stdin=stdin, stdout=stdout, stderr=stderr))
    received: list[int] = []

    def on_signal(signum: int) -> None:
        received.append(signum)
        task.cancel()

    installed = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signum, on_signal, signum)
            installed.append(signum)
    try:
        return await task
    except asyncio.CancelledError:
        if not received:
            raise
        return ExitCode.TERMINATED if received[0] == signal.SIGTERM else ExitCode.INTERRUPTED
    finally:
        for signum in installed:
            loop.remove_signal_handler(signum)


class _UTCFormatter(logging.Formatter):
    """Log lines stamped in RFC 3339 with milliseconds, as emqtt's CLI stamps them."""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        moment = datetime.fromtimestamp(record.created, tz=timezone.utc)
        return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@contextlib.contextmanager
def _logging_to(stream: TextIO, level: str) -> Iterator[None]:
    """Log at ``level`` and above to ``stream`` while the command runs, then put the root
    logger back as it was (``main`` may run inside another program, or a test)."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(_UTCFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(level.upper())
    try:
        yield
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``emqtt`` with ``argv`` (default: the process's arguments); return the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    stderr = sys.stderr
    try:
        command = parse_command(args)
    except UsageError as exc:
        print(f"emqtt: {exc}", file=stderr)
        print("Try 'emqtt --help' or 'emqtt COMMAND --help'.", file=stderr)
        return ExitCode.USAGE
    except SystemExit as exc:  # --help
        return exc.code if isinstance(exc.code, int) else ExitCode.OK
    settings = command.connection
    with _logging_to(stderr, settings.log_level):
        return _main(command, stderr)


def _main(command: PubCommand | SubCommand | ConnectCommand, stderr: TextIO) -> int:
    settings = command.connection
    counters = TrafficCounters().start() if settings.telemetry else None
    try:
        # A closed stdin (``<&-``) reads as empty, as a file would.
        stdin = sys.stdin.buffer if sys.stdin is not None else io.BytesIO()
        return asyncio.run(_run_until_signalled(command, stdin, sys.stdout.buffer, stderr))
    except BrokenPipeError:
        # The reader of stdout went away (``| head -n 1``): stop quietly, as a program killed
        # by SIGPIPE would, and point stdout at /dev/null so that the interpreter's final flush
        # does not fail again.
        with contextlib.suppress(OSError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
        return ExitCode.BROKEN_PIPE
    except (Exception, KeyboardInterrupt) as exc:
        code, message = describe(exc, secure=settings.tls is not None)
        if code is ExitCode.ERROR or settings.log_level == "debug":
            traceback.print_exception(exc, file=stderr)
        print(f"emqtt: {message}", file=stderr)
        return code
    finally:
        if counters is not None:
            counters.close()
            print(counters.summary(), file=stderr)


if __name__ == "__main__":
    sys.exit(main())
