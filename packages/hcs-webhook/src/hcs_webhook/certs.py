"""`hcs-webhook certs`: HCS's certificates where cert-manager is absent (the chart's hook Job).

One CA signs every leaf: the extender's and the webhook's serving certificates and
kube-scheduler's client certificate (CN hcs-kube-scheduler). Each leaf's Secret carries the CA as
`ca.crt`, which is what its holder verifies the other side with, and the CA goes into the webhook
registrations' caBundle. It lives here because the webhook image already holds what it needs
(cryptography, the Kubernetes client): the chart pulls no other image for it.

`reconcile` keeps what is valid, so the Job can run before and after every install and upgrade:
a leaf is issued again when its Secret is missing or unreadable, it is not signed by the CA, it
lacks a wanted name or usage, or it expires within `renew_before`; the CA when it would expire
before a leaf issued now (then every leaf follows). The decisions take a clock; the API calls
go through `CertStore`.
"""

from __future__ import annotations

import base64
import datetime
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol

import click
import kubernetes
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from hcs_webhook.kube import api_client
from hcs_webhook.tls import certificate_builder, key_pem

Data = dict[str, bytes]
"""A Secret's data, decoded: tls.crt, tls.key, ca.crt (PEM)."""


@dataclass(frozen=True)
class Leaf:
    """A certificate to keep in Secret `secret`: serving (with `dns_names`) or client."""

    secret: str
    common_name: str
    dns_names: tuple[str, ...] = ()

    @property
    def usage(self) -> x509.ObjectIdentifier:
        return (
            ExtendedKeyUsageOID.SERVER_AUTH if self.dns_names else ExtendedKeyUsageOID.CLIENT_AUTH
        )


@dataclass(frozen=True)
class Lifetimes:
    validity: datetime.timedelta
    """How long a leaf is valid."""
    renew_before: datetime.timedelta
    """Issue a leaf again when less than this remains."""
    ca_validity: datetime.timedelta
    """How long the CA is valid."""


class CertStore(Protocol):
    """The API calls `reconcile` needs: Secrets in one namespace, and webhook registrations."""

    def read(self, secret: str) -> Data | None: ...
    def write(self, secret: str, data: Data, exists: bool) -> None: ...
    def set_ca_bundle(self, configuration: str, ca: bytes) -> list[str]:
        """Put `ca` into every webhook of the registrations named `configuration` that exist
        and hold another; return what changed, a line each."""
        ...


def reconcile(
    store: CertStore,
    ca_secret: str,
    leaves: Sequence[Leaf],
    lifetimes: Lifetimes,
    configurations: Sequence[str],
    now: datetime.datetime,
) -> list[str]:
    """Make the Secrets and caBundles right; what was done, a line each."""
    done: list[str] = []
    found = store.read(ca_secret)
    ca = _pair(found)
    if ca is None or ca[0].not_valid_after_utc < now + lifetimes.validity + lifetimes.renew_before:
        ca = _issue_ca(now, lifetimes.ca_validity)
        store.write(ca_secret, _data(ca, ca[0]), exists=found is not None)
        done.append(f"issued the CA in Secret {ca_secret}" + (" (renewed)" if found else ""))
    for leaf in leaves:
        existing = store.read(leaf.secret)
        why = _reissue_reason(existing, leaf, ca[0], lifetimes, now)
        if why:
            store.write(
                leaf.secret,
                _data(_issue_leaf(leaf, ca, now, lifetimes), ca[0]),
                existing is not None,
            )
            done.append(f"issued Secret {leaf.secret}: {why}")
    ca_pem = ca[0].public_bytes(serialization.Encoding.PEM)
    for configuration in configurations:
        done += store.set_ca_bundle(configuration, ca_pem)
    return done


Pair = tuple[x509.Certificate, ec.EllipticCurvePrivateKey]


def _pair(data: Data | None) -> Pair | None:
    """The certificate and key of a Secret, or None when either is missing or unreadable."""
    if data is None:
        return None
    try:
        cert = x509.load_pem_x509_certificate(data["tls.crt"])
        key = serialization.load_pem_private_key(data["tls.key"], password=None)
    except (KeyError, ValueError, TypeError):
        return None
    return (cert, key) if isinstance(key, ec.EllipticCurvePrivateKey) else None


def _reissue_reason(
    data: Data | None,
    leaf: Leaf,
    ca: x509.Certificate,
    lifetimes: Lifetimes,
    now: datetime.datetime,
) -> str:
    """Why the leaf in `data` must be issued again; empty when it can stay."""
    pair = _pair(data)
    if pair is None:
        return "missing" if data is None else "unreadable"
    cert = pair[0]
    try:
        cert.verify_directly_issued_by(ca)
    except (InvalidSignature, ValueError, TypeError):
        return "not signed by the CA"
    if cert.not_valid_after_utc < now + lifetimes.renew_before:
        return f"expires {cert.not_valid_after_utc:%Y-%m-%d}"
    try:
        names = tuple(
            cert.extensions.get_extension_for_class(
                x509.SubjectAlternativeName
            ).value.get_values_for_type(x509.DNSName)
        )
    except x509.ExtensionNotFound:
        names = ()
    if set(names) != set(leaf.dns_names) or _common_name(cert) != leaf.common_name:
        return "names changed"
    try:
        usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        usages = x509.ExtendedKeyUsage([])
    if leaf.usage not in usages:
        return "usage changed"
    if data is None or data.get("ca.crt") != ca.public_bytes(serialization.Encoding.PEM):
        return "ca.crt is not the CA"
    return ""


def _common_name(cert: x509.Certificate) -> str:
    values = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(values[0].value) if values else ""


def _issue_ca(now: datetime.datetime, validity: datetime.timedelta) -> Pair:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hcs-ca")])
    usage = x509.KeyUsage(True, False, False, False, False, True, True, False, False)
    cert = (
        certificate_builder(name, name, key.public_key(), now, validity)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(usage, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def _issue_leaf(leaf: Leaf, ca: Pair, now: datetime.datetime, lifetimes: Lifetimes) -> Pair:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, leaf.common_name)])
    usage = x509.KeyUsage(True, False, False, False, False, False, False, False, False)
    builder = (
        certificate_builder(subject, ca[0].subject, key.public_key(), now, lifetimes.validity)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(usage, critical=True)
        .add_extension(x509.ExtendedKeyUsage([leaf.usage]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca[1].public_key()), critical=False
        )
    )
    if leaf.dns_names:
        names = [x509.DNSName(name) for name in leaf.dns_names]
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(ca[1], hashes.SHA256()), key


def _data(pair: Pair, ca: x509.Certificate) -> Data:
    return {
        "tls.crt": pair[0].public_bytes(serialization.Encoding.PEM),
        "tls.key": key_pem(pair[1]),
        "ca.crt": ca.public_bytes(serialization.Encoding.PEM),
    }


class KubernetesCertStore:
    """`CertStore` on the official client: Secrets of `namespace`, webhook registrations."""

    LABELS: ClassVar[dict[str, str]] = {
        "app.kubernetes.io/part-of": "hcs",
        "app.kubernetes.io/managed-by": "hcs-webhook-certs",
    }

    def __init__(self, api_client: Any, namespace: str) -> None:
        self._core = kubernetes.client.CoreV1Api(api_client)
        self._admission = kubernetes.client.AdmissionregistrationV1Api(api_client)
        self._namespace = namespace

    def read(self, secret: str) -> Data | None:
        found = _absent_if_404(self._core.read_namespaced_secret, secret, self._namespace)
        if found is None:
            return None
        return {k: base64.b64decode(v) for k, v in (found.data or {}).items()}

    def write(self, secret: str, data: Data, exists: bool) -> None:
        body: Any = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": secret, "namespace": self._namespace, "labels": self.LABELS},
            "type": "kubernetes.io/tls",
            "data": {k: base64.b64encode(v).decode() for k, v in data.items()},
        }
        if exists:
            self._core.replace_namespaced_secret(secret, self._namespace, body)
        else:
            self._core.create_namespaced_secret(self._namespace, body)

    def set_ca_bundle(self, configuration: str, ca: bytes) -> list[str]:
        bundle = base64.b64encode(ca).decode()
        done = []
        for kind, read, patch in (
            (
                "MutatingWebhookConfiguration",
                self._admission.read_mutating_webhook_configuration,
                self._admission.patch_mutating_webhook_configuration,
            ),
            (
                "ValidatingWebhookConfiguration",
                self._admission.read_validating_webhook_configuration,
                self._admission.patch_validating_webhook_configuration,
            ),
        ):
            found = _absent_if_404(read, configuration)
            if found is None:
                continue  # before install: the registrations come with the chart's manifests
            stale = [w.name for w in found.webhooks or [] if w.client_config.ca_bundle != bundle]
            if stale:
                # A strategic merge patch: webhooks merge by name, only caBundle changes.
                change = [{"name": n, "clientConfig": {"caBundle": bundle}} for n in stale]
                patch(configuration, {"webhooks": change})
                done.append(f"set the caBundle of {kind} {configuration} ({', '.join(stale)})")
        return done


def _absent_if_404(call: Any, *args: Any) -> Any:
    try:
        return call(*args)
    except kubernetes.client.ApiException as error:
        if error.status == 404:
            return None
        raise


@click.command()
@click.option("--namespace", required=True, help="Where the Secrets live (the release's).")
@click.option("--ca-secret", default="hcs-ca", show_default=True, help="Secret of the CA.")
@click.option(
    "--serving",
    "serving",
    multiple=True,
    metavar="SECRET=DNS[,DNS...]",
    help="A serving certificate: its Secret and DNS names (the first is its CN).",
)
@click.option(
    "--client", "client", multiple=True, metavar="SECRET=CN", help="A client certificate."
)
@click.option(
    "--webhook-configuration",
    "configurations",
    multiple=True,
    help="Mutating/ValidatingWebhookConfiguration whose caBundle gets the CA.",
)
@click.option("--validity-days", type=click.IntRange(min=2), default=365, show_default=True)
@click.option("--renew-before-days", type=click.IntRange(min=1), default=30, show_default=True)
@click.option("--ca-validity-days", type=click.IntRange(min=2), default=3650, show_default=True)
@click.option("--kubeconfig", help="Default: the in-cluster service account.")
def certs(
    namespace: str,
    ca_secret: str,
    serving: tuple[str, ...],
    client: tuple[str, ...],
    configurations: tuple[str, ...],
    validity_days: int,
    renew_before_days: int,
    ca_validity_days: int,
    kubeconfig: str | None,
) -> None:
    """Keep HCS's CA, serving and client certificates in Secrets and the CA in the webhook
    registrations (what cert-manager does where it is installed). Safe to run again."""
    leaves = [Leaf(s, names.split(",")[0], tuple(names.split(","))) for s, names in _pairs(serving)]
    leaves += [Leaf(s, cn) for s, cn in _pairs(client)]
    lifetimes = Lifetimes(
        datetime.timedelta(days=validity_days),
        datetime.timedelta(days=renew_before_days),
        datetime.timedelta(days=ca_validity_days),
    )
    if lifetimes.validity + lifetimes.renew_before >= lifetimes.ca_validity:
        raise click.UsageError("--ca-validity-days must exceed validity plus renew-before days")
    store = KubernetesCertStore(_api_client(kubeconfig), namespace)
    now = datetime.datetime.now(datetime.UTC)
    done = reconcile(store, ca_secret, leaves, lifetimes, configurations, now)
    for line in done or ["every certificate is valid; nothing to do"]:
        click.echo(line)


def _pairs(values: tuple[str, ...]) -> list[tuple[str, str]]:
    pairs = []
    for value in values:
        name, _, rest = value.partition("=")
        if not name or not rest:
            raise click.BadParameter(f"{value!r}: expected SECRET=VALUE")
        pairs.append((name, rest))
    return pairs


def _api_client(kubeconfig: str | None) -> Any:
    try:
        return api_client(Path(kubeconfig) if kubeconfig else None)
    except kubernetes.config.ConfigException as error:
        raise click.ClickException(f"cannot reach the Kubernetes API: {error}") from None
