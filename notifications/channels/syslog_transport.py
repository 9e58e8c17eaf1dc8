"""Syslog framing and transport: the header of a record, how records are delimited on a stream, and the sockets.

Headers (the CEF record is the MSG part):

- RFC 5424: ``<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID STRUCTURED-DATA MSG``, e.g.
  ``<133>1 2026-12-03T07:00:00.123Z kcs-1 kcs-response - ADM-002 - CEF:0|…``; TIMESTAMP in UTC with milliseconds,
  MSGID the record's signature ID when it has one (printable ASCII, at most 32 characters), else ``-``.
- RFC 3164 (BSD): ``<PRI>Mmm dd hh:mm:ss HOSTNAME TAG: MSG``, e.g. ``<133>Dec  3 07:00:00 kcs-1 kcs-response: CEF:0|…``
  (UTC; the format has no time zone), what older collectors and the CEF specification's examples expect.

Transports: UDP (RFC 5426: one record per datagram), TCP (RFC 6587) and TLS (RFC 5425). On TCP and TLS each record
is framed by *octet counting* (``LEN SP RECORD``: RFC 6587 §3.4.1, the framing RFC 5425 prescribes) or by a
trailing newline (*non-transparent framing*, §3.4.2: what most collectors also accept, e.g. Splunk's TCP input).
A record never contains a line break (the CEF filters escape them), so newline framing is unambiguous too.
"""

from __future__ import annotations

import logging
import re
import socket
import ssl
from datetime import UTC, datetime

from django.conf import settings

from notifications.channels.base import TransportError
from notifications.channels.http import connect, resolve_destination

logger = logging.getLogger(__name__)

TIMEOUT = 5.0
APP_NAME = "kcs-response"
FORMATS = [("rfc5424", "RFC 5424"), ("rfc3164", "RFC 3164 (BSD)")]
PROTOCOLS = [("udp", "UDP"), ("tcp", "TCP"), ("tls", "TLS (TCP with TLS)")]
TCP_FRAMINGS = [("newline", "Newline after each record"), ("octet_counting", "Octet counting (RFC 6587, RFC 5425)")]
# A UDP datagram carries one record; larger ones are cut (RFC 5426 asks receivers for 2,048 octets at least, most take
# far more; IPv4 allows 65,507 octets of payload).
MAX_DATAGRAM = 65000

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_NOT_PRINTUSASCII = re.compile(r"[^\x21-\x7e]")


def hostname() -> str:
    """This host's name as syslog headers carry it: printable ASCII without spaces, ``-`` when there is none."""
    return _NOT_PRINTUSASCII.sub("", socket.gethostname())[:255] or "-"


def header(fmt: str, pri: int, msgid: str = "", *, now: datetime | None = None, host: str | None = None) -> str:
    """The syslog header of a record (``fmt``: ``rfc5424`` or ``rfc3164``), ending with the space before MSG."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    host = host or hostname()
    if fmt == "rfc3164":
        stamp = f"{_MONTHS[now.month - 1]} {now.day:2d} {now:%H:%M:%S}"
        return f"<{pri}>{stamp} {host.split('.')[0]} {APP_NAME}: "
    msgid = _NOT_PRINTUSASCII.sub("", msgid)[:32] or "-"
    stamp = now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"
    return f"<{pri}>1 {stamp} {host} {APP_NAME} - {msgid} - "


def frame(record: bytes, framing: str) -> bytes:
    """One record as it goes on a TCP or TLS stream."""
    if framing == "octet_counting":
        return str(len(record)).encode() + b" " + record
    return record + b"\n"


def tls_context(verify: bool, ca_certificate: str = "") -> ssl.SSLContext:
    """The client context of a TLS output: the server's certificate checked against ``ca_certificate`` (PEM) when
    given, else against the system's CAs and ``REQUESTS_CA_BUNDLE``, and its name against the host; nothing checked
    when ``verify`` is off (encryption without authentication: for a trial only). ``ssl.SSLError`` for a bad PEM."""
    context = ssl.create_default_context(cadata=ca_certificate or None)
    if not ca_certificate and settings.REQUESTS_CA_BUNDLE:
        context.load_verify_locations(cafile=settings.REQUESTS_CA_BUNDLE)
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def send_records(
    records: list[bytes],
    *,
    host: str,
    port: int,
    protocol: str,
    framing: str = "newline",
    tls: ssl.SSLContext | None = None,
) -> None:
    """Send ``records`` (each a whole syslog record) to ``host:port``; raises :class:`TransportError`.

    The guard checks the addresses once and those are the ones used (the name is not looked up again). A refused
    or dropped connection, a timeout or a TLS handshake that fails may pass (the collector restarts, a certificate
    is renewed): they are retried. UDP cannot tell whether anyone listens.
    """
    stream = protocol in ("tcp", "tls")
    addresses = resolve_destination(host, port, socket.SOCK_STREAM if stream else socket.SOCK_DGRAM)
    try:
        if stream:
            with connect(addresses, TIMEOUT) as raw:
                sock = (tls or tls_context(True)).wrap_socket(raw, server_hostname=host) if protocol == "tls" else raw
                with sock:
                    sock.sendall(b"".join(frame(record, framing) for record in records))
                    if protocol == "tls":
                        _close_notify(sock)
        else:
            family, kind, proto, address = addresses[0]
            with socket.socket(family, kind, proto) as sock:
                sock.settimeout(TIMEOUT)
                for record in records:
                    sock.sendto(record[:MAX_DATAGRAM], address)
    except ssl.SSLCertVerificationError as exc:
        raise TransportError(
            f"Syslog to {host}:{port}: the collector's certificate was refused ({exc.verify_message}). "
            "Give its CA certificate, or check the host name."
        ) from None
    except (OSError, ssl.SSLError) as exc:
        raise TransportError(f"Syslog to {host}:{port} failed: {exc.__class__.__name__}: {exc}") from None


def _close_notify(sock: ssl.SSLSocket) -> None:
    """Tell the collector the TLS stream ended cleanly. The records are already sent: a collector that closes
    without answering is not a failure (retrying would only send them twice)."""
    try:
        sock.unwrap()
    except (OSError, ssl.SSLError) as exc:
        logger.debug("syslog TLS stream closed without close_notify: %s", exc)
