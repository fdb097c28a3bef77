"""A tiny HTTPS GET for readiness probes, so waiting needs no Kubernetes client."""

from __future__ import annotations

import http.client
import ssl

from hcs_envtest._pki import CertPair


def tls_context(ca: str | None, client: CertPair | None = None) -> ssl.SSLContext:
    """Verifies the server against `ca` (None: accepts any, for components' self-signed
    serving certificates), and presents `client` if given."""
    context = ssl.create_default_context(cafile=ca)
    if ca is None:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if client is not None:
        context.load_cert_chain(client.cert, client.key)
    return context


def get(port: int, path: str, context: ssl.SSLContext | None, timeout: float = 2.0) -> int:
    """The status of GET `path` on 127.0.0.1:`port` (HTTPS with `context`, else HTTP); 0 when
    nothing answers."""
    connection: http.client.HTTPConnection
    if context is None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    else:
        connection = http.client.HTTPSConnection(
            "127.0.0.1", port, timeout=timeout, context=context
        )
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        return response.status
    except (OSError, http.client.HTTPException):
        return 0
    finally:
        connection.close()
