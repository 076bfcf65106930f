"""TLS material for the test brokers: one trustme CA, a server and a client certificate, on disk.

mosquitto reads its certificates from files, and when it starts as root it switches to the
``mosquitto`` user *before* reading them, so the directory must be traversable and the files
readable by that user.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

import trustme

#: Names the server certificate is valid for: every way a test may address the loopback broker.
SERVER_IDENTITIES = ("localhost", "127.0.0.1", "::1")
#: The subject alternative name of the client certificate used by mutual-TLS tests.
CLIENT_IDENTITY = "emqtt-test-client@example.org"


@dataclass(frozen=True)
class TLSMaterial:
    """A CA with a server certificate and a client certificate, written under ``directory``.

    Attributes:
        ca: The trustme certificate authority (issue more certificates with ``ca.issue_cert``).
        ca_file: PEM file of the CA certificate (what clients verify against).
        server_cert_file: PEM certificate chain for the server identities.
        server_key_file: PEM private key of the server certificate.
        client_cert_file: PEM certificate chain of the client certificate (mutual TLS).
        client_key_file: PEM private key of the client certificate.
    """

    ca: trustme.CA
    ca_file: Path
    server_cert_file: Path
    server_key_file: Path
    client_cert_file: Path
    client_key_file: Path

    @classmethod
    def create(cls, directory: Path) -> TLSMaterial:
        """Issue fresh certificates and write them, world-readable, into ``directory``."""
        directory.mkdir(parents=True, exist_ok=True)
        # 0711: the unprivileged broker user may open known file names but not list the folder.
        directory.chmod(0o711)
        ca = trustme.CA(organization_name="emqtt test CA")
        server = ca.issue_cert(*SERVER_IDENTITIES, common_name="localhost")
        client = ca.issue_cert(CLIENT_IDENTITY, common_name="emqtt-test-client")
        files = {
            "ca.pem": ca.cert_pem.bytes(),
            "server.pem": b"".join(blob.bytes() for blob in server.cert_chain_pems),
            "server.key": server.private_key_pem.bytes(),
            "client.pem": b"".join(blob.bytes() for blob in client.cert_chain_pems),
            "client.key": client.private_key_pem.bytes(),
        }
        for name, data in files.items():
            path = directory / name
            path.write_bytes(data)
            # Throwaway test keys: readable by the broker's user is the point.
            path.chmod(0o644)
        return cls(
            ca=ca,
            ca_file=directory / "ca.pem",
            server_cert_file=directory / "server.pem",
            server_key_file=directory / "server.key",
            client_cert_file=directory / "client.pem",
            client_key_file=directory / "client.key",
        )

    def client_ssl_context(self, *, client_cert: bool = False) -> ssl.SSLContext:
        """A client context that verifies the server against this CA (hostname checked).

        Args:
            client_cert: Also present the client certificate (for mutual TLS).
        """
        context = ssl.create_default_context(cafile=str(self.ca_file))
        if client_cert:
            context.load_cert_chain(str(self.client_cert_file), str(self.client_key_file))
        return context
