"""TLS for the webhook: certificates from files, re-read when they change, or self-signed.

The API server keeps its connections to a webhook open, so a renewed certificate (cert-manager
rewrites the Secret's files in place) must be picked up without a restart. Every handshake
calls back into `ReloadingTLS`, which compares the files' modification times (two stat calls)
and, when they changed, loads them into a fresh SSLContext for that and later handshakes. A
half-written pair (new certificate, old key) fails to load: the old context stays in use and
the next handshake tries again.
"""

from __future__ import annotations

import datetime
import ipaddress
import logging
import ssl
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from hcs_webhook.errors import ConfigError

log = logging.getLogger(__name__)


class ReloadingTLS:
    """A server SSLContext whose certificate follows the files on disk."""

    def __init__(self, cert: Path, key: Path) -> None:
        self.cert, self.key = cert, key
        self._stamp = self._mtimes()
        try:
            self._current = self._load()
        except (OSError, ssl.SSLError) as error:
            raise ConfigError(f"tls_cert/tls_key: cannot load {cert} and {key}: {error}") from None
        self.context = self._load()  # the listening context; it hands handshakes to _current
        self.context.sni_callback = self._on_handshake
        self.reloads = 0

    def _mtimes(self) -> tuple[int, int]:
        return (self.cert.stat().st_mtime_ns, self.key.stat().st_mtime_ns)

    def _load(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self.cert, self.key)
        return context

    def _on_handshake(
        self, connection: ssl.SSLObject | ssl.SSLSocket, server_name: str | None, _: ssl.SSLContext
    ) -> None:
        try:
            stamp = self._mtimes()
            if stamp != self._stamp:
                self._current = self._load()
                self._stamp = stamp
                self.reloads += 1
                log.info("TLS certificate reloaded from %s", self.cert)
        except (OSError, ssl.SSLError) as error:
            log.warning("TLS certificate not reloaded (keeping the previous one): %s", error)
        connection.context = self._current


def self_signed(directory: Path, hosts: list[str]) -> tuple[Path, Path]:
    """Write a self-signed certificate for `hosts` (names or IPs) and its key; return the paths.

    The certificate is its own CA: give it to clients as the CA bundle (curl --cacert).
    """
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])])
    now = datetime.datetime.now(datetime.UTC)
    alternative: list[x509.GeneralName] = []
    for host in hosts:
        try:
            alternative.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            alternative.append(x509.DNSName(host))
    certificate = (
        certificate_builder(name, name, key.public_key(), now, datetime.timedelta(days=365))
        .add_extension(x509.SubjectAlternativeName(alternative), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = directory / "tls.crt", directory / "tls.key"
    key_path.touch(mode=0o600)
    key_path.write_bytes(key_pem(key))
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return cert_path, key_path


def certificate_builder(
    subject: x509.Name,
    issuer: x509.Name,
    public_key: ec.EllipticCurvePublicKey,
    now: datetime.datetime,
    validity: datetime.timedelta,
) -> x509.CertificateBuilder:
    """A certificate valid from five minutes ago (nodes whose clocks run a little behind accept
    it at once) for `validity`."""
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + validity)
    )


def key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


DEFAULT_HOSTS = ["localhost", "127.0.0.1", "hcs-webhook", "hcs-webhook.hcs-system.svc"]
