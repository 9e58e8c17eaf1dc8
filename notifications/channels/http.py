"""The one outbound HTTP helper, and the guard against private, loopback and link-local destinations.

Every HTTP request of every channel goes through :func:`request`: fixed timeouts, at most a few redirects, and the
destination guard applied to each hop. The guard checks the names a URL resolves to *before* connecting and the
address actually connected to *after* (so a DNS answer that changes between the two cannot slip through). Channels
that open sockets themselves (syslog, SMTP) resolve once with :func:`resolve_destination` and connect to the
addresses it checked (:func:`connect`), never to the name again. The guard is off only with
``KCS_ALLOW_PRIVATE_DESTINATIONS`` (tests and on-premises receivers).

Error messages name the host, never the full URL: webhook paths and Telegram URLs carry credentials.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from notifications.channels.base import TransportError

CONNECT_TIMEOUT = 5.0  # seconds to open a connection
READ_TIMEOUT = 10.0  # seconds to wait for each read of the answer
MAX_REDIRECTS = 3
USER_AGENT = "KCS-Response/1"
# Longest Retry-After we honour as asked; beyond it the normal backoff applies (a receiver asking for a day is
# better served by our bounded retries than by silence).
MAX_RETRY_AFTER = 3600.0


# IPv6 forms that carry an IPv4 address, which is where a packet to them ends up (through a NAT64 gateway, a 6to4
# or Teredo relay, or a dual-stack host's own IPv4 stack): the well-known NAT64 prefix (RFC 6052, the last 32 bits)
# and the deprecated IPv4-compatible ::a.b.c.d. The local-use NAT64 prefix (RFC 8215) is never public.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL_USE = ipaddress.ip_network("64:ff9b:1::/48")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for: IPv4-mapped, NAT64, IPv4-compatible, 6to4 or Teredo client."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _NAT64 or ip in _IPV4_COMPATIBLE:
        return ipaddress.IPv4Address(int(ip) & 0xFFFF_FFFF)
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    return None


def forbidden_address(address: str) -> bool:
    """True for addresses that are not public: private, loopback, link-local (cloud metadata), reserved…, also
    when written as an IPv6 form of such an IPv4 address (``::ffff:127.0.0.1``, ``64:ff9b::7f00:1``, ``2002:7f00:1::``,
    ``::127.0.0.1``)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return True
    if isinstance(ip, ipaddress.IPv6Address):
        if ip in _NAT64_LOCAL_USE:
            return True
        ip = _embedded_ipv4(ip) or ip
    return not ip.is_global or ip.is_multicast


def _refusal(host: str, address: str) -> TransportError:
    return TransportError(
        f"Refused to connect to {host} ({address}): private, loopback and link-local destinations are blocked "
        "unless KCS_ALLOW_PRIVATE_DESTINATIONS is on.",
        permanent=True,
    )


# One resolved address: what socket.socket() and connect()/sendto() take.
Address = tuple[int, int, int, Any]  # (family, type, proto, sockaddr)


def resolve_destination(host: str, port: int, socktype: int = socket.SOCK_STREAM) -> list[Address]:
    """The addresses of ``host:port``, each checked by the guard. Connect to these (:func:`connect`), never to the
    name again: a second lookup may answer differently (DNS rebinding) and reach what the check refused.

    Raises :class:`TransportError`: permanent when any address is not public (unless
    ``KCS_ALLOW_PRIVATE_DESTINATIONS``), transient when the name does not resolve.
    """
    host = host.strip("[]")
    try:
        infos = socket.getaddrinfo(host, port, type=socktype)
    except (socket.gaierror, UnicodeError) as exc:
        raise TransportError(f"Could not resolve {host}: {exc}") from None
    if not settings.KCS_ALLOW_PRIVATE_DESTINATIONS:
        for info in infos:
            address = info[4][0]
            if forbidden_address(address):
                raise _refusal(host, address)
    return [(family, kind, proto, sockaddr) for family, kind, proto, _, sockaddr in infos]


def check_destination(host: str, port: int) -> None:
    """Raise a permanent :class:`TransportError` when ``host`` is or resolves to a non-public address."""
    if settings.KCS_ALLOW_PRIVATE_DESTINATIONS:
        return
    resolve_destination(host, port)


def connect(addresses: list[Address], timeout: float) -> socket.socket:
    """A connected stream socket to the first of ``addresses`` (from :func:`resolve_destination`) that answers;
    raises the last ``OSError`` when none does."""
    failure: OSError = OSError("no address to connect to")
    for family, kind, proto, sockaddr in addresses:
        sock = socket.socket(family, kind, proto)
        try:
            sock.settimeout(timeout)
            sock.connect(sockaddr)
            return sock
        except OSError as exc:
            sock.close()
            failure = exc
    raise failure


class _PeerCheck:
    """Checks the address a connection actually reached (defeats DNS answers that change after the check)."""

    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()  # type: ignore[misc]
        if not settings.KCS_ALLOW_PRIVATE_DESTINATIONS:
            address = sock.getpeername()[0]
            if forbidden_address(address):
                sock.close()
                raise _refusal(self.host, address)  # type: ignore[attr-defined]
        return sock


class _GuardedHTTPConnection(_PeerCheck, HTTPConnection):
    pass


class _GuardedHTTPSConnection(_PeerCheck, HTTPSConnection):
    pass


class _GuardedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _GuardedHTTPConnection


class _GuardedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _GuardedHTTPSConnection


class _GuardedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _GuardedHTTPPool, "https": _GuardedHTTPSPool}


class _GuardedSession(requests.Session):
    """A session whose every request, redirects included, passes the destination guard first."""

    def send(self, request, **kwargs):
        parts = urlsplit(request.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise TransportError("Only http:// and https:// URLs with a host name can be used.", permanent=True)
        check_destination(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
        return super().send(request, **kwargs)


_local = threading.local()


def session() -> requests.Session:
    """One session per thread, so connections to a receiver are reused (keep-alive) across deliveries."""
    session = getattr(_local, "session", None)
    if session is None:
        session = _GuardedSession()
        session.max_redirects = MAX_REDIRECTS
        session.headers["User-Agent"] = USER_AGENT
        # No proxies, .netrc credentials or CA bundles from the environment: a destination is checked and connected
        # to by address (a proxy would bypass the guard), a .netrc must never add credentials to a webhook, and
        # reading the environment on every request was half of a delivery's CPU time.
        session.trust_env = False
        session.verify = settings.REQUESTS_CA_BUNDLE or True
        adapter = _GuardedAdapter(pool_connections=16, pool_maxsize=16)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        _local.session = session
    return session


def request(
    method: str,
    url: str,
    *,
    json: Any = None,
    data: bytes | str | None = None,
    headers: dict[str, str] | None = None,
    auth: tuple[str, str] | None = None,
) -> requests.Response:
    """Send one HTTP request and return the response, whatever its status (see :func:`check_response`).

    Raises :class:`TransportError` for what happens before an answer: refused destination, bad URL, timeout,
    connection failure, too many redirects.
    """
    host = urlsplit(url).hostname or "the receiver"
    try:
        return session().request(
            method,
            url,
            json=json,
            data=data,
            headers=headers,
            auth=auth,
            timeout=(CONNECT_TIMEOUT, READ_TIMEOUT),
            allow_redirects=True,
        )
    except requests.Timeout:
        raise TransportError(f"Timed out waiting for {host}.") from None
    except requests.TooManyRedirects:
        raise TransportError(f"{host} redirected more than {MAX_REDIRECTS} times.", permanent=True) from None
    except (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema, requests.exceptions.InvalidSchema):
        raise TransportError("The URL is not valid.", permanent=True) from None
    except requests.ConnectionError as exc:
        raise TransportError(f"Could not connect to {host}: {_reason(exc)}") from None
    except requests.RequestException as exc:
        raise TransportError(f"Request to {host} failed: {exc.__class__.__name__}") from None


def _reason(exc: Exception) -> str:
    """A short cause without the URL (urllib3 messages embed the path, which may hold a token)."""
    text = str(exc)
    for marker in (
        "Connection refused",
        "Name or service not known",
        "Temporary failure in name resolution",
        "Connection reset",
        "certificate verify failed",
        "No route to host",
        "Network is unreachable",
    ):
        if marker in text:
            return marker.lower()
    return exc.__class__.__name__


def retry_after(response: requests.Response) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or HTTP date), capped; None when absent or invalid."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError):
            return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def check_response(response: requests.Response, service: str, detail: str | None = None) -> None:
    """Return for a 2xx answer; otherwise raise a classified :class:`TransportError`.

    429, 408 and 5xx may pass (retry, honouring Retry-After); any other answer is permanent: retrying a 4xx sends the
    same request to the same refusal. ``detail`` is the receiver's own explanation when the channel parsed one.
    """
    status = response.status_code
    if 200 <= status < 300:
        return
    if detail is None:
        detail = " ".join(response.text[:200].split())
    message = f"{service} answered HTTP {status}" + (f": {detail}" if detail else "")
    transient = status in (408, 429) or status >= 500
    raise TransportError(message, permanent=not transient, retry_after=retry_after(response) if transient else None)
