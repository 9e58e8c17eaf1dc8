"""The outbound HTTP helper refuses private, loopback and link-local destinations unless they are allowed —
by address, by a name that resolves to one, after a redirect, and when a name's answer changes after the check."""

from __future__ import annotations

import socket
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
