"""The harness's CA issues certificates a TLS client and server accept, with the identity asked."""

import socket
import ssl
import threading

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from hcs_envtest import Binaries, EnvtestError
from hcs_envtest._pki import Authority


def _load(path):
    return x509.load_pem_x509_certificate(path.read_bytes())


def test_client_certificate_carries_user_and_groups(tmp_path):
    pair = Authority(tmp_path).issue(
        "alice", common_name="alice", organizations=("system:masters", "team-a")
    )
    cert = _load(pair.cert)
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "alice"
    groups = [a.value for a in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)]
    assert groups == ["system:masters", "team-a"]
    usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usages) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    assert oct(pair.key.stat().st_mode & 0o777) == "0o600"


def test_server_and_client_complete_a_mutual_tls_handshake(tmp_path):
    authority = Authority(tmp_path)
    server = authority.issue("server", common_name="webhook", hosts=("127.0.0.1", "localhost"))
    client = authority.issue("client", common_name="bob")
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=authority.cert)
    server_context.load_cert_chain(server.cert, server.key)
    server_context.verify_mode = ssl.CERT_REQUIRED
    client_context = ssl.create_default_context(cafile=authority.cert)
    client_context.load_cert_chain(client.cert, client.key)
    seen = {}
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve():
        connection, _ = listener.accept()
        with server_context.wrap_socket(connection, server_side=True) as tls:
            seen["peer"] = tls.getpeercert()["subject"]
            tls.sendall(b"ok")

    thread = threading.Thread(target=serve)
    thread.start()
    with (
        socket.create_connection(("127.0.0.1", port)) as raw,
        client_context.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        assert tls.recv(2) == b"ok"
    thread.join(5)
    listener.close()
    assert (("commonName", "bob"),) in seen["peer"]


def test_missing_binaries_are_named(tmp_path, monkeypatch):
    monkeypatch.delenv("HCS_CONTROLPLANE_BIN", raising=False)
    with pytest.raises(EnvtestError, match="make controlplane"):
        Binaries.locate()
    (tmp_path / "etcd").write_text("#!/bin/sh\n")
    (tmp_path / "etcd").chmod(0o755)
    with pytest.raises(EnvtestError, match="lacks kube-apiserver, kube-scheduler"):
        Binaries.locate(tmp_path)
