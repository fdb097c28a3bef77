"""`hcs-webhook certs` (the hook Job): a CA and leaves that work for TLS, kept while valid."""

from __future__ import annotations

import datetime
import socket
import ssl
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from hcs_webhook.certs import Data, Leaf, Lifetimes, reconcile
from hcs_webhook.cli import main

NOW = datetime.datetime(2026, 12, 1, tzinfo=datetime.UTC)
DAYS = datetime.timedelta(days=1)
LIFETIMES = Lifetimes(validity=365 * DAYS, renew_before=30 * DAYS, ca_validity=3650 * DAYS)
EXTENDER = Leaf("hcs-scheduler-tls", "hcs-scheduler", ("hcs-scheduler", "hcs-scheduler.hcs.svc"))
WEBHOOK = Leaf("hcs-webhook-tls", "hcs-webhook", ("hcs-webhook", "hcs-webhook.hcs.svc"))
CLIENT = Leaf("hcs-kube-scheduler-client", "hcs-kube-scheduler")
LEAVES = [EXTENDER, WEBHOOK, CLIENT]


class MemoryStore:
    """Secrets and webhook registrations in memory; `writes` lists every Secret written."""

    def __init__(self, registrations: dict[str, list[str]] | None = None) -> None:
        self.secrets: dict[str, Data] = {}
        self.writes: list[str] = []
        self.bundles = {
            name: dict.fromkeys(hooks, b"") for name, hooks in (registrations or {}).items()
        }

    def read(self, secret: str) -> Data | None:
        return dict(self.secrets[secret]) if secret in self.secrets else None

    def write(self, secret: str, data: Data, exists: bool) -> None:
        assert exists == (secret in self.secrets), "create a new Secret, replace an existing one"
        self.secrets[secret] = dict(data)
        self.writes.append(secret)

    def set_ca_bundle(self, configuration: str, ca: bytes) -> list[str]:
        hooks = self.bundles.get(configuration, {})
        stale = [name for name, bundle in hooks.items() if bundle != ca]
        hooks.update(dict.fromkeys(stale, ca))
        return [f"set {configuration}: {name}" for name in stale]


def run(store: MemoryStore, now: datetime.datetime = NOW) -> list[str]:
    return reconcile(store, "hcs-ca", LEAVES, LIFETIMES, ["hcs-webhook"], now)


def cert(store: MemoryStore, secret: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(store.secrets[secret]["tls.crt"])


def test_first_run_issues_a_ca_and_leaves_it_signed():
    store = MemoryStore({"hcs-webhook": ["mutate.hcs.io", "validate.hcs.io"]})
    done = run(store)
    assert store.writes == ["hcs-ca", *[leaf.secret for leaf in LEAVES]]
    ca = cert(store, "hcs-ca")
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    for leaf in LEAVES:
        issued = cert(store, leaf.secret)
        issued.verify_directly_issued_by(ca)
        assert store.secrets[leaf.secret]["ca.crt"] == store.secrets["hcs-ca"]["tls.crt"]
        cn = issued.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
        assert cn == leaf.common_name
        assert issued.not_valid_after_utc == NOW + LIFETIMES.validity
    usages = cert(store, CLIENT.secret).extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert list(usages.value) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    names = cert(store, EXTENDER.secret).extensions.get_extension_for_class(
        x509.SubjectAlternativeName
    )
    assert names.value.get_values_for_type(x509.DNSName) == list(EXTENDER.dns_names)
    assert set(store.bundles["hcs-webhook"].values()) == {store.secrets["hcs-ca"]["tls.crt"]}
    assert "set hcs-webhook: validate.hcs.io" in done


def test_a_second_run_changes_nothing():
    store = MemoryStore({"hcs-webhook": ["mutate.hcs.io"]})
    run(store)
    store.writes.clear()
    assert run(store, NOW + 100 * DAYS) == []
    assert store.writes == []


def test_registrations_that_do_not_exist_yet_are_left_for_the_next_run():
    store = MemoryStore()
    assert not [line for line in run(store) if "set" in line]
    store.bundles["hcs-webhook"] = {"mutate.hcs.io": b""}
    assert run(store) == ["set hcs-webhook: mutate.hcs.io"]


def test_leaves_near_expiry_are_renewed_and_the_ca_kept():
    store = MemoryStore()
    run(store)
    ca = store.secrets["hcs-ca"]
    store.writes.clear()
    done = run(store, NOW + 340 * DAYS)
    assert store.writes == [leaf.secret for leaf in LEAVES]
    assert all("expires 2027-12-01" in line for line in done)
    assert store.secrets["hcs-ca"] == ca


def test_a_ca_that_would_expire_before_a_new_leaf_is_renewed_with_every_leaf():
    store = MemoryStore()
    run(store)
    store.writes.clear()
    done = run(store, NOW + (3650 - 390) * DAYS)
    assert store.writes == ["hcs-ca", *[leaf.secret for leaf in LEAVES]]
    assert done[0] == "issued the CA in Secret hcs-ca (renewed)"
    assert all(line.endswith("not signed by the CA") for line in done[1:])


@pytest.mark.parametrize(
    ("spoil", "reason"),
    [
        (lambda data, other: data.pop("tls.key"), "unreadable"),
        (lambda data, other: data.update({"tls.crt": b"not a certificate"}), "unreadable"),
        (lambda data, other: data.update(other), "not signed by the CA"),
        (lambda data, other: data.update({"ca.crt": other["ca.crt"]}), "ca.crt is not the CA"),
    ],
    ids=["key-missing", "garbage", "another-ca", "stale-ca-crt"],
)
def test_a_spoilt_leaf_is_issued_again(spoil, reason):
    store, elsewhere = MemoryStore(), MemoryStore()
    run(store)
    run(elsewhere)
    spoil(store.secrets[WEBHOOK.secret], elsewhere.secrets[WEBHOOK.secret])
    assert run(store) == [f"issued Secret hcs-webhook-tls: {reason}"]
    cert(store, WEBHOOK.secret).verify_directly_issued_by(cert(store, "hcs-ca"))


def test_a_leaf_whose_names_changed_is_issued_again():
    store = MemoryStore()
    run(store)
    moved = Leaf(WEBHOOK.secret, "hcs-webhook", ("hcs-webhook", "hcs-webhook.elsewhere.svc"))
    done = reconcile(store, "hcs-ca", [moved], LIFETIMES, [], NOW)
    assert done == ["issued Secret hcs-webhook-tls: names changed"]


def test_the_certificates_serve_mutual_tls(tmp_path: Path):
    """The extender's serving certificate as a server that asks for client certificates, and
    kube-scheduler's client certificate, each verified against the other's ca.crt."""
    store = MemoryStore()
    run(store)
    files = {}
    for secret, data in store.secrets.items():
        for key, value in data.items():
            files[secret, key] = tmp_path / f"{secret}-{key}"
            files[secret, key].write_bytes(value)
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(files[EXTENDER.secret, "tls.crt"], files[EXTENDER.secret, "tls.key"])
    server.load_verify_locations(files[EXTENDER.secret, "ca.crt"])
    server.verify_mode = ssl.CERT_REQUIRED
    client = ssl.create_default_context(cafile=files[CLIENT.secret, "ca.crt"])
    client.load_cert_chain(files[CLIENT.secret, "tls.crt"], files[CLIENT.secret, "tls.key"])
    left, right = socket.socketpair()
    seen: dict[str, object] = {}

    def serve() -> None:
        with server.wrap_socket(left, server_side=True) as tls:
            seen["peer"] = tls.getpeercert()
            tls.sendall(b"ok")

    thread = threading.Thread(target=serve)
    thread.start()
    with client.wrap_socket(right, server_hostname="hcs-scheduler.hcs.svc") as tls:
        assert tls.recv(2) == b"ok"
    thread.join(5)
    assert seen["peer"]["subject"] == ((("commonName", "hcs-kube-scheduler"),),)  # type: ignore[index]


def test_the_command_refuses_a_malformed_leaf_and_a_short_lived_ca():
    result = CliRunner().invoke(main, ["certs", "--namespace", "hcs", "--serving", "x"])
    assert result.exit_code == 2
    assert "'x': expected SECRET=VALUE" in result.output
    args = ["certs", "--namespace", "hcs", "--validity-days", "400", "--ca-validity-days", "420"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    assert "--ca-validity-days must exceed validity plus renew-before days" in result.output
