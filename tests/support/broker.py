"""A private mosquitto broker for tests: TCP, TLS, WebSocket and secure WebSocket listeners.

`Mosquitto` writes a configuration into its own directory, starts ``mosquitto -c`` on free
loopback ports, waits until every listener accepts connections and can be stopped (gracefully
with SIGTERM, or abruptly with SIGKILL) and started again on the *same* ports, which is what
kill-and-restart tests need. ``persistence true`` keeps sessions across a graceful restart.

Facts this module accounts for (mosquitto 2.0):

- A ``protocol websockets`` listener ignores the bind address unless ``socket_domain ipv4``
  follows it; without it the broker would listen on every interface.
- Started as root, mosquitto switches to the ``mosquitto`` user before it reads certificates and
  writes its persistence file, so directories are 0711 and the data directory is handed over.
- Pre-picked free ports can be taken by someone else before the broker binds them: the first
  start retries with fresh ports.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import ssl
import subprocess
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from types import TracebackType

import trustme

from support.certs import TLSMaterial
from support.net import LOOPBACK, free_tcp_ports, port_accepts

#: Where Debian puts the broker when it is not on PATH (sbin is often missing from PATH).
DEFAULT_EXECUTABLE = "/usr/sbin/mosquitto"
#: Fresh-port attempts on the first start before giving up (port races with other processes).
START_ATTEMPTS = 5
#: How often readiness is polled while waiting for the listeners (bounded by a deadline).
POLL_INTERVAL = 0.02


class MosquittoError(RuntimeError):
    """The broker could not be found, started or stopped; the message includes its log."""


def mosquitto_executable() -> str:
    """The path of the mosquitto binary.

    Raises:
        MosquittoError: mosquitto is not installed. The real-broker tests are part of the
            suite, so this is an error, not a reason to skip (``scripts/setup.sh`` installs it).
    """
    found = shutil.which("mosquitto")
    if found:
        return found
    if os.access(DEFAULT_EXECUTABLE, os.X_OK):
        return DEFAULT_EXECUTABLE
    raise MosquittoError(
        "mosquitto is not installed (not on PATH, not at /usr/sbin/mosquitto); "
        "the broker tests need it: run scripts/setup.sh or `apt-get install mosquitto`"
    )


def _broker_user() -> pwd.struct_passwd | None:
    """The account mosquitto switches to when started as root, if it exists."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam("mosquitto")
    except KeyError:
        return None


class Mosquitto:
    """One private mosquitto process and its configuration, certificates and log.

    Attributes:
        host: The loopback address every listener is bound to.
        tcp_port: Plain MQTT over TCP.
        ssl_port: MQTT over TLS (server certificate for localhost, 127.0.0.1 and ::1).
        ws_port: MQTT over WebSocket (path is free; clients use ``/mqtt``).
        wss_port: MQTT over WebSocket over TLS.
        tls: The certificates (CA, server, client) this broker uses.
        directory: The broker's own directory (configuration, log, persistence).
    """

    def __init__(
        self,
        directory: Path,
        tls: TLSMaterial,
        *,
        extra_conf: Iterable[str] = (),
        allow_anonymous: bool = True,
        require_certificate: bool = False,
        executable: str | None = None,
    ) -> None:
        """Prepare a broker in ``directory`` (created if needed); nothing runs until `start`.

        Args:
            directory: Private directory for the configuration, log and persistence file.
            tls: Certificates for the TLS listeners.
            extra_conf: Extra global configuration lines (``max_inflight_messages 5``,
                ``password_file /path``, ...). They are placed before the listeners so they
                cannot change a listener's settings by accident.
            allow_anonymous: Whether clients without a user name are accepted.
            require_certificate: TLS listeners demand a client certificate signed by the CA
                (mutual TLS). Without it, client certificates are not requested.
            executable: The mosquitto binary (default: found by `mosquitto_executable`).
        """
        self.executable = executable or mosquitto_executable()
        self.host = LOOPBACK
        self.tls = tls
        self.directory = directory
        self.extra_conf = tuple(extra_conf)
        self.allow_anonymous = allow_anonymous
        self.require_certificate = require_certificate
        self.tcp_port = self.ssl_port = self.ws_port = self.wss_port = 0
        self._process: subprocess.Popen[bytes] | None = None
        directory.mkdir(parents=True, exist_ok=True)
        directory.chmod(0o711)
        self.data_directory = directory / "data"
        self.data_directory.mkdir(exist_ok=True)
        user = _broker_user()
        if user is not None:
            os.chown(self.data_directory, user.pw_uid, user.pw_gid)
        self.conf_file = directory / "mosquitto.conf"
        self.log_file = directory / "mosquitto.log"
        self.persistence_file = self.data_directory / "mosquitto.db"

    # -- what tests use -----------------------------------------------------------------------

    @property
    def ca(self) -> trustme.CA:
        """The trustme CA that signed the server and client certificates."""
        return self.tls.ca

    @property
    def ca_file(self) -> Path:
        """PEM file of the CA certificate."""
        return self.tls.ca_file

    @property
    def running(self) -> bool:
        """Whether the broker process is alive."""
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        """Process id of the running broker, or None."""
        return self._process.pid if self.running and self._process else None

    def port_for(self, transport: str) -> int:
        """The port of this broker's listener for ``tcp``, ``ssl``, ``ws`` or ``wss``."""
        return {
            "tcp": self.tcp_port,
            "ssl": self.ssl_port,
            "ws": self.ws_port,
            "wss": self.wss_port,
        }[transport]

    def client_ssl_context(self, *, client_cert: bool = False) -> ssl.SSLContext:
        """A verifying client `ssl.SSLContext` for this broker's CA (hostname checked).

        Args:
            client_cert: Also present the test client certificate (mutual TLS).
        """
        return self.tls.client_ssl_context(client_cert=client_cert)

    def write_file(self, name: str, content: str | bytes) -> Path:
        """Write a file the broker can read (password or ACL file) into its directory."""
        path = self.directory / name
        if isinstance(content, str):
            content = content.encode()
        path.write_bytes(content)
        path.chmod(0o644)
        return path

    def log(self) -> str:
        """Everything the broker has logged so far."""
        try:
            return self.log_file.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self, timeout: float = 10.0) -> None:
        """Start the broker and wait until every listener accepts connections.

        The first start picks free ports (retrying with fresh ones when another process took
        one); later starts reuse the same ports so clients can reconnect to the same address.

        Raises:
            MosquittoError: The broker did not come up (its log is in the message).
        """
        if self.running:
            raise MosquittoError("mosquitto is already running")
        if self.tcp_port:
            self._start_once(timeout)
            return
        failure: MosquittoError | None = None
        for _ in range(START_ATTEMPTS):
            self.tcp_port, self.ssl_port, self.ws_port, self.wss_port = free_tcp_ports(4)
            try:
                self._start_once(timeout)
            except MosquittoError as exc:
                failure = exc
                continue
            return
        self.tcp_port = self.ssl_port = self.ws_port = self.wss_port = 0
        assert failure is not None
        raise failure

    def stop(self, *, kill: bool = False, timeout: float = 10.0) -> None:
        """Stop the broker: SIGTERM (graceful, saves persistence) or SIGKILL (abrupt).

        Does nothing when it is not running.

        Raises:
            MosquittoError: It did not exit within ``timeout`` after SIGTERM (then it is killed).
        """
        process = self._process
        if process is None:
            return
        self._process = None
        if process.poll() is None:
            process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
                raise MosquittoError(
                    f"mosquitto ignored SIGTERM for {timeout}s and was killed\n{self.log()}"
                ) from None

    def restart(self, *, kill: bool = False, timeout: float = 10.0) -> None:
        """Stop (SIGTERM, or SIGKILL when ``kill``) and start again on the same ports."""
        self.stop(kill=kill, timeout=timeout)
        self.start(timeout)

    def wait_ready(self, timeout: float = 10.0) -> None:
        """Block until all four listeners accept TCP connections.

        This is a readiness poll bounded by ``timeout``; between attempts it waits on the
        broker process, so an exit (a failed bind, a bad configuration) is noticed at once.

        Raises:
            MosquittoError: The broker exited or was not ready in time.
        """
        deadline = time.monotonic() + timeout
        pending = [self.tcp_port, self.ssl_port, self.ws_port, self.wss_port]
        while True:
            process = self._process
            if process is None or process.poll() is not None:
                code = None if process is None else process.returncode
                raise MosquittoError(f"mosquitto exited (status {code})\n{self.log()}")
            pending = [port for port in pending if not port_accepts(self.host, port)]
            if not pending:
                return
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise MosquittoError(
                    f"mosquitto listeners {pending} not ready after {timeout}s\n{self.log()}"
                )
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(min(POLL_INTERVAL, remaining))

    def __enter__(self) -> Mosquitto:
        if not self.running:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # -- internals ----------------------------------------------------------------------------

    def _start_once(self, timeout: float) -> None:
        self.conf_file.write_text(self._configuration())
        self.conf_file.chmod(0o644)
        with self.log_file.open("ab") as log:
            self._process = subprocess.Popen(
                [self.executable, "-c", str(self.conf_file)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            self.wait_ready(timeout)
        except MosquittoError:
            self.stop(kill=True)
            raise

    def _configuration(self) -> str:
        tls = self.tls
        tls_lines = [
            f"cafile {tls.ca_file}",
            f"certfile {tls.server_cert_file}",
            f"keyfile {tls.server_key_file}",
            f"require_certificate {'true' if self.require_certificate else 'false'}",
        ]
        lines = [
            "# Generated for one test run.",
            "persistence true",
            f"persistence_location {self.data_directory}/",
            f"persistence_file {self.persistence_file.name}",
            f"allow_anonymous {'true' if self.allow_anonymous else 'false'}",
            "log_dest stderr",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "log_type information",
            "connection_messages true",
            *self.extra_conf,
            "",
            f"listener {self.tcp_port} {self.host}",
            "",
            f"listener {self.ssl_port} {self.host}",
            *tls_lines,
            "",
            f"listener {self.ws_port} {self.host}",
            "protocol websockets",
            # Without it the websockets listener binds every interface, whatever the host says.
            "socket_domain ipv4",
            "",
            f"listener {self.wss_port} {self.host}",
            "protocol websockets",
            "socket_domain ipv4",
            *tls_lines,
            "",
        ]
        return "\n".join(lines)


#: The ``mosquitto_factory`` fixture: keyword arguments of `Mosquitto`, returns a started broker.
MosquittoFactory = Callable[..., Mosquitto]
