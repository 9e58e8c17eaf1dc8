"""The outbound HTTP helper refuses private, loopback and link-local destinations unless they are allowed —
by address, by a name that resolves to one, after a redirect, and when a name's answer changes after the check."""

from __future__ import annotations

import socket
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from notifications.channels import http
from notifications.channels.base import TransportError
from tests.helpers import response

PUBLIC_IP = "93.184.215.14"


@pytest.fixture
def loopback_server():
    hits = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            hits.append(self.rfile.read(int(self.headers["Content-Length"] or 0)))
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1], hits
    server.shutdown()
    server.server_close()


def fake_dns(monkeypatch, answers: dict[str, list[str]]):
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host in answers:
            address = answers[host].pop(0) if len(answers[host]) > 1 else answers[host][0]
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/hook",
        "http://10.1.2.3/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/hook",
        "http://192.168.0.10/",
        "http://0.0.0.0/",
    ],
)
def test_guard_refuses_private_addresses(deny_private, url):
    with pytest.raises(TransportError) as failure:
        http.request("POST", url, json={})
    assert failure.value.permanent
    assert "KCS_ALLOW_PRIVATE_DESTINATIONS" in failure.value.message


@pytest.mark.parametrize("address", ["127.0.0.1", "10.0.0.7", "169.254.169.254"])
def test_guard_refuses_names_resolving_to_private_addresses(deny_private, monkeypatch, address):
    fake_dns(monkeypatch, {"hooks.evil.example": [address]})
    with pytest.raises(TransportError) as failure:
        http.request("POST", "https://hooks.evil.example/x", json={})
    assert failure.value.permanent and address in failure.value.message


def test_guard_refuses_a_redirect_to_the_metadata_service(deny_private, monkeypatch):
    fake_dns(monkeypatch, {"hooks.example.com": [PUBLIC_IP]})
    sent = []

    def adapter_send(self, request, **kwargs):  # the public receiver answers with a redirect
        sent.append(request.url)
        answer = response(307, "", {"Location": "http://169.254.169.254/latest/meta-data/iam"})
        answer.request, answer.url = request, request.url
        return answer

    monkeypatch.setattr(http._GuardedAdapter, "send", adapter_send)
    http._local.__dict__.clear()
    with pytest.raises(TransportError) as failure:
        http.request("POST", "https://hooks.example.com/x", json={})
    assert failure.value.permanent and "169.254.169.254" in failure.value.message
    assert sent == ["https://hooks.example.com/x"]  # the redirect target was never contacted


def test_guard_checks_the_address_actually_connected_to(deny_private, monkeypatch, loopback_server):
    """A name that resolves to a public address for the check and to loopback for the connection (DNS rebinding)."""
    port, hits = loopback_server
    fake_dns(monkeypatch, {"rebind.example": [PUBLIC_IP, "127.0.0.1"]})
    http._local.__dict__.clear()
    with pytest.raises(TransportError) as failure:
        http.request("POST", f"http://rebind.example:{port}/x", json={})
    assert failure.value.permanent and "127.0.0.1" in failure.value.message
    assert hits == []


def test_private_destinations_work_when_allowed(allow_private, loopback_server):
    port, hits = loopback_server
    answer = http.request("POST", f"http://127.0.0.1:{port}/x", data=b'{"a": 1}')
    assert answer.status_code == 200 and hits == [b'{"a": 1}']


def test_connection_errors_are_transient_and_do_not_show_the_url(allow_private):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(TransportError) as failure:
        http.request("POST", f"http://127.0.0.1:{port}/bot123:SECRET/sendMessage", json={})
    assert not failure.value.permanent
    assert "SECRET" not in failure.value.message and "127.0.0.1" in failure.value.message


def test_retry_after_accepts_seconds_and_dates():
    assert http.retry_after(response(429, "", {"Retry-After": "12"})) == 12.0
    assert http.retry_after(response(429, "", {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"})) == 0.0
    assert http.retry_after(response(429, "", {"Retry-After": "soon"})) is None
    assert http.retry_after(response(429, "", {"Retry-After": "999999"})) == http.MAX_RETRY_AFTER


@pytest.mark.parametrize(
    "address",
    [
        "::ffff:127.0.0.1",  # IPv4-mapped
        "::ffff:169.254.169.254",
        "64:ff9b::7f00:1",  # NAT64 (well-known prefix) of 127.0.0.1
        "64:ff9b::a00:1",  # … of 10.0.0.1
        "64:ff9b::a9fe:a9fe",  # … of the metadata service
        "64:ff9b:1::a00:1",  # local-use NAT64 prefix
        "2002:7f00:1::",  # 6to4 of 127.0.0.1
        "2002:a9fe:a9fe::1",  # 6to4 of 169.254.169.254
        "2002:c0a8:a::",  # 6to4 of 192.168.0.10
        "::127.0.0.1",  # IPv4-compatible
        "::10.0.0.1",
    ],
)
def test_ipv6_forms_of_private_ipv4_addresses_are_refused(deny_private, address):
    assert http.forbidden_address(address)
    with pytest.raises(TransportError) as failure:
        http.request("POST", f"http://[{address}]/hook", json={})
    assert failure.value.permanent and "KCS_ALLOW_PRIVATE_DESTINATIONS" in failure.value.message


@pytest.mark.parametrize("address", ["64:ff9b::5db8:d70e", "2002:5db8:d70e::", "::ffff:93.184.215.14", PUBLIC_IP])
def test_ipv6_forms_of_public_ipv4_addresses_stay_allowed(address):
    assert not http.forbidden_address(address)


@pytest.fixture
def connections(monkeypatch):
    """Every connect()/sendto() target; those beyond loopback are refused (as an unreachable host would be)."""
    seen: list[str] = []
    real_connect, real_sendto = socket.socket.connect, socket.socket.sendto

    def connect(sock, address):
        seen.append(address[0])
        if address[0] != "127.0.0.1":
            raise ConnectionRefusedError(111, "Connection refused")
        return real_connect(sock, address)

    def sendto(sock, data, *args):
        address = args[-1]
        seen.append(address[0])
        if address[0] != "127.0.0.1":
            return len(data)  # dropped, as a datagram to nowhere is
        return real_sendto(sock, data, *args)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "sendto", sendto)
    return seen


@pytest.mark.django_db
@pytest.mark.parametrize("protocol", ["tcp", "udp"])
def test_syslog_connects_to_the_checked_address_not_a_rebound_one(deny_private, monkeypatch, connections, protocol):
    from tests.factories import make_batch, make_integration
    from tests.helpers import send

    kind = socket.SOCK_STREAM if protocol == "tcp" else socket.SOCK_DGRAM
    with socket.socket(socket.AF_INET, kind) as server:
        server.bind(("127.0.0.1", 0))
        server.settimeout(0.3)
        if protocol == "tcp":
            server.listen(1)
        port = server.getsockname()[1]
        fake_dns(monkeypatch, {"siem.rebind.example": [PUBLIC_IP, "127.0.0.1"]})
        integration = make_integration(
            "syslog", config={"host": "siem.rebind.example", "port": port, "protocol": protocol}
        )
        if protocol == "tcp":
            with pytest.raises(TransportError):  # the public address does not answer here
                send(integration, make_batch(1))
        else:
            send(integration, make_batch(1))
        with pytest.raises(OSError):  # nothing reached loopback
            server.accept() if protocol == "tcp" else server.recv(65536)
    assert connections == [PUBLIC_IP]


@pytest.fixture
def loopback_listener():
    """A TCP listener on loopback that records connections and hangs up with an SMTP refusal."""
    accepted = []
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    server.settimeout(5)

    def serve():
        try:
            while True:
                conn, peer = server.accept()
                accepted.append(peer)
                conn.sendall(b"554 go away\r\n")
                conn.close()
        except OSError:
            pass

    threading.Thread(target=serve, daemon=True).start()
    yield server.getsockname()[1], accepted
    server.close()


@pytest.mark.django_db
@pytest.mark.parametrize("tls", ["none", "starttls", "tls"])
def test_smtp_connects_to_the_checked_address_not_a_rebound_one(
    deny_private, monkeypatch, connections, loopback_listener, tls
):
    from tests.factories import make_batch, make_integration
    from tests.helpers import send

    port, accepted = loopback_listener
    fake_dns(monkeypatch, {"mail.rebind.example": [PUBLIC_IP, "127.0.0.1"]})
    integration = make_integration(
        "email",
        config={
            "recipients": ["a@example.com"],
            "sender": "",
            "smtp": {"host": "mail.rebind.example", "port": port, "tls": tls, "username": ""},
        },
    )
    with pytest.raises(TransportError) as failure:
        send(integration, make_batch(1))
    assert not failure.value.permanent and "mail server" in failure.value.message
    assert accepted == [] and connections == [PUBLIC_IP]


@pytest.mark.django_db
def test_smtps_to_a_checked_address_verifies_the_certificate_against_the_name(allow_private, monkeypatch):
    from notifications.channels.email import PinnedEmailBackend

    server_names = []

    class Context:
        def wrap_socket(self, sock, server_hostname=None, **kwargs):
            server_names.append((sock.getpeername()[0], server_hostname))
            raise ssl.SSLError("stop here")

    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        port = server.getsockname()[1]
        fake_dns(monkeypatch, {"mail.example": ["127.0.0.1"]})
        addresses = http.resolve_destination("mail.example", port)
        backend = PinnedEmailBackend(addresses=addresses, host="mail.example", port=port, use_ssl=True, timeout=5)
        monkeypatch.setattr(PinnedEmailBackend, "ssl_context", Context())
        with pytest.raises(ssl.SSLError):
            backend.open()
    assert server_names == [("127.0.0.1", "mail.example")]
