"""`ca_file` really is what the client trusts: a local HTTPS server with a private CA."""

from __future__ import annotations

import datetime as dt
import http.server
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from ipaddress import IPv4Address
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from nemo_evaluator_operator.evaluator.errors import EvaluatorConnectionError
from nemo_evaluator_operator.evaluator.v1.client import V1Client


@dataclass
class TLSServer:
    url: str
    ca_file: Path
    auth_headers: list[str | None]


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _write_pki(directory: Path) -> tuple[Path, Path, Path]:
    """A CA and a server certificate for 127.0.0.1 signed by it."""
    now = dt.datetime.now(dt.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(_name("test-ca"))
        .issuer_name(_name("test-ca"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("127.0.0.1"))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(IPv4Address("127.0.0.1"))]), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    paths = directory / "ca.pem", directory / "tls.crt", directory / "tls.key"
    paths[0].write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return paths


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[TLSServer]:
    ca_file, cert_file, key_file = _write_pki(tmp_path)
    auth_headers: list[str | None] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            auth_headers.append(self.headers.get("authorization"))
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", "9")
            self.end_headers()
            self.wfile.write(b'"healthy"')

        def log_message(self, format: str, *args: object) -> None:
            """Keep test output quiet."""

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield TLSServer(f"https://127.0.0.1:{server.server_address[1]}", ca_file, auth_headers)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


async def test_ca_file_is_trusted(tls_server: TLSServer) -> None:
    client = V1Client.from_settings(
        tls_server.url, token="tok", ca_file=str(tls_server.ca_file), timeout=5.0
    )
    async with client:
        await client.health()
    assert tls_server.auth_headers == ["Bearer tok"]


async def test_without_ca_file_the_private_ca_is_rejected(tls_server: TLSServer) -> None:
    client = V1Client.from_settings(tls_server.url, timeout=5.0)
    async with client:
        with pytest.raises(EvaluatorConnectionError, match="GET /health failed: ConnectError"):
            await client.health()
    assert tls_server.auth_headers == []
