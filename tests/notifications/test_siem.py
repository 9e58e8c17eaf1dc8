"""The log goes to the SIEM: real UDP, TCP and TLS syslog collectors on loopback receive CEF records of the security
event log (administration, policy alerts) and, when asked, of every stored security event; through the outbox, so a
collector that is down gets them later."""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
import socketserver
import ssl
import threading
from collections.abc import Iterator

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from django.test import TestCase
from django.utils import timezone

from events.models import EventType
from events.services import ingest
from kcs import audit
from kcs.models import AuditAction, AuditEntry
from notifications import delivery, siem
from notifications.models import Notification, NotificationStatus, NotificationStream
from tests.factories import make_batch, make_integration, make_policy, vulnerability
from tests.helpers import free_port, parse_cef, wait_for

pytestmark = pytest.mark.django_db

API = "/api/v1"


# --- collectors -----------------------------------------------------------------------------------------------------
class Collector:
    """What a syslog collector received: one string per record, in arrival order."""

    def __init__(self) -> None:
        self.records: list[str] = []
        self.streams: list[bytes] = []  # TCP/TLS: each connection's raw bytes
        self._lock = threading.Lock()

    def add(self, records: list[str]) -> None:
        with self._lock:
            self.records.extend(records)

    def wait(self, count: int) -> list[str]:
        wait_for(lambda: len(self.records) >= count, timeout=5, what=f"{count} syslog records")
        return list(self.records)

    def cef(self, signature_prefix: str = "") -> list[dict]:
        return [
            parsed
            for parsed in (parse_cef(record) for record in self.records)
            if parsed["signature"].startswith(signature_prefix)
        ]


def split_stream(data: bytes, framing: str) -> list[str]:
    """The records of one TCP/TLS connection, framed by octet counting (RFC 6587 3.4.1) or newlines."""
    if framing == "newline":
        assert data.endswith(b"\n"), data
        return [line.decode() for line in data.split(b"\n")[:-1]]
    records = []
    while data:
        length, _, rest = data.partition(b" ")
        assert length.isdigit(), data
        records.append(rest[: int(length)].decode())
        data = rest[int(length) :]
    return records


class _Udp(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        self.server.collector.add([self.request[0].decode()])


class _Stream(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        data = self.rfile.read()  # until the sender closes: one delivery per connection
        self.server.collector.streams.append(data)
        self.server.collector.add(split_stream(data, self.server.framing))


class _TlsServer(socketserver.ThreadingTCPServer):
    context: ssl.SSLContext

    def get_request(self):
        sock, address = super().get_request()
        return self.context.wrap_socket(sock, server_side=True), address


@pytest.fixture
def collector() -> Iterator:
    """Start a collector: ``collector(protocol, framing="newline", port=0, tls=None)`` → (Collector, port)."""
    servers = []

    def start(protocol: str, framing: str = "newline", port: int = 0, tls: ssl.SSLContext | None = None):
        if protocol == "udp":
            server = socketserver.ThreadingUDPServer(("127.0.0.1", port), _Udp)
        elif protocol == "tls":
            _TlsServer.allow_reuse_address = True
            server = _TlsServer(("127.0.0.1", port), _Stream, bind_and_activate=False)
            server.context = tls
            server.server_bind()
            server.server_activate()
        else:
            socketserver.ThreadingTCPServer.allow_reuse_address = True
            server = socketserver.ThreadingTCPServer(("127.0.0.1", port), _Stream)
        server.daemon_threads = True
        server.collector, server.framing = Collector(), framing
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        servers.append(server)
        return server.collector, server.server_address[1]

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def siem_output(port: int, name: str = "SIEM", **config):
    return make_integration(
        "syslog",
        name,
        config={
            "host": "127.0.0.1",
            "port": port,
            "protocol": "udp",
            "format": "rfc5424",
            "tcp_framing": "newline",
            "tls_verify": True,
            "ca_certificate": "",
            "security_log": True,
            "security_events": False,
            **config,
        },
    )


# --- administration ---------------------------------------------------------------------------------------------------
def test_a_policy_change_reaches_a_udp_collector_as_an_administration_record(
    allow_private, collector, admin_api, django_capture_on_commit_callbacks
):
    received, port = collector("udp")
    siem_output(port)
    policy = make_policy("Prod = critical \\ images", [make_integration("email")])

    with django_capture_on_commit_callbacks(execute=True):
        answer = admin_api.patch(f"{API}/response-policies/{policy.pk}/", {"enabled": False}, format="json")
    assert answer.status_code == 200

    (record,) = received.wait(1)
    assert re.match(r"<133>1 \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \S+ kcs-response - ADM-002 - CEF:0\|", record)
    cef = parse_cef(record)
    assert (cef["vendor"], cef["product"], cef["signature"], cef["name"]) == (
        "KCS Response",
        "KCS Response",
        "ADM-002",
        "Response policy changed",
    )
    ext = cef["extension"]
    assert ext["suser"] == "root" and ext["src"] == "127.0.0.1" and ext["outcome"] == "Success"
    assert ext["flexString1Label"] == "Policy type" and ext["flexString1"] == "Response policy"
    assert ext["flexString2Label"] == "Policy name" and ext["flexString2"] == "Prod = critical \\ images"
    assert "flexString2=Prod \\= critical \\\\ images " in record  # = and \ escaped in an extension value
    entry = AuditEntry.objects.get(object_type="response policy", action=AuditAction.UPDATE)
    assert ext["externalId"] == str(entry.pk) and ext["act"] == "update" and "(enabled" in ext["msg"]
    row = Notification.objects.get(stream=NotificationStream.AUDIT)
    assert row.status == NotificationStatus.SENT and row.policy is None and row.audit_entry == entry
    assert row.body == record  # the delivery log keeps what was sent


def test_extension_values_escape_line_breaks_so_a_record_stays_one_line(
    allow_private, collector, django_capture_on_commit_callbacks
):
    received, port = collector("udp")
    siem_output(port)
    integration = make_integration("email", "Team\nmail = ops\\x")
    entry = AuditEntry(
        actor_name="alice", action=AuditAction.CREATE, object_type="notification integration",
        object_id=str(integration.pk), object_repr="Team\nmail = ops\\x", source="api",
    )  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        audit.record_many([entry])
    (record,) = received.wait(1)
    assert len(record.splitlines()) == 1
    assert "fname=Team\\nmail \\= ops\\\\x " in record


def with_on_commit(action) -> None:
    """Run ``action`` and then what it scheduled for after the commit (as a committed request would)."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        action()


# --- policy alerts ----------------------------------------------------------------------------------------------------
def alert_for(policy_name: str = "Prod | critical \\ images") -> tuple[Notification, AuditEntry]:
    """A notification a policy made and its "alert" entry in the security event log."""
    email = make_integration("email")
    policy = make_policy(policy_name, [email])
    batch = make_batch(2)
    notification = Notification.objects.create(
        policy=policy, policy_name=policy.name, trigger=policy.trigger, trigger_label="Critical vulnerabilities",
        integration=email, integration_name=email.name, batch=batch, idempotency_key="alert-1",
        status=NotificationStatus.SENT,
    )  # fmt: skip
    notification.events.set(batch.events.all())
    entry = audit.record(None, AuditAction.CREATE, notification, object_type="alert")
    return notification, entry


@pytest.mark.parametrize("framing", ["octet_counting", "newline"])
def test_a_policy_alert_reaches_a_tcp_collector_with_policy_type_and_name(allow_private, collector, framing):
    received, port = collector("tcp", framing)
    siem_output(port, protocol="tcp", tcp_framing=framing)
    notification = None

    def alert():
        nonlocal notification
        notification, _ = alert_for()

    with_on_commit(alert)
    records = received.wait(1)
    plc = [parse_cef(record) for record in records if "|PLC-001|" in record]
    assert len(plc) == 1
    cef = plc[0]
    assert cef["name"] == "Policy alert" and cef["severity"] == "10"  # its worst event is critical
    ext = cef["extension"]
    assert ext["flexString1Label"] == "Policy type" and ext["flexString1"] == "Response policy"
    assert ext["flexString2Label"] == "Policy name" and ext["flexString2"] == "Prod | critical \\ images"
    assert ext["cs1"] == "Critical vulnerabilities" and ext["cat"] == "Policies"
    assert ext["fname"].startswith("registry.example.com/shop/web:1.4.2") and ext["suser"] == "system"
    if framing == "octet_counting":
        assert re.match(rb"^\d+ <\d+>1 ", received.streams[0])
    else:
        assert received.streams[0].endswith(b"\n") and received.streams[0].count(b"\n") == 1


def test_a_pipe_and_a_backslash_in_a_header_field_are_escaped(
    allow_private, collector, django_capture_on_commit_callbacks
):
    received, port = collector("tcp")
    siem_output(port, protocol="tcp", security_log=False, security_events=True)
    with django_capture_on_commit_callbacks(execute=True):
        ingest([vulnerability(title="heap | overflow \\ in = libx", finding_id="CVE-2024-7")], source="api")
    (record,) = received.wait(1)
    cef = parse_cef(record)
    assert cef["name"] == "heap \\| overflow \\\\ in = libx"  # header: | and \ escaped, = left alone
    assert cef["signature"] == "vulnerability:CVE-2024-7"


# --- framings ---------------------------------------------------------------------------------------------------------
def test_rfc3164_headers_for_older_collectors(allow_private, collector):
    received, port = collector("udp")
    siem_output(port, format="rfc3164")
    gone = make_integration("email", "Gone")
    with_on_commit(lambda: audit.record(None, AuditAction.DELETE, gone, {"name": ["Gone", None]}))
    (record,) = received.wait(1)
    assert re.match(r"<132>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \S+ kcs-response: CEF:0\|", record)
    assert "|ADM-005|Notification integration deleted|5|" in record


# --- TLS ---------------------------------------------------------------------------------------------------------------
def certificates() -> tuple[str, ssl.SSLContext]:
    """A self-signed CA (PEM) and a collector context whose certificate it signed for 127.0.0.1."""
    now = dt.datetime.now(dt.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "KCS test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "collector")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = lambda c: c.public_bytes(serialization.Encoding.PEM).decode()  # noqa: E731
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    import tempfile

    with tempfile.NamedTemporaryFile("w", suffix=".pem") as chain, tempfile.NamedTemporaryFile("wb") as private:
        chain.write(pem(cert))
        chain.flush()
        private.write(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        private.flush()
        context.load_cert_chain(chain.name, private.name)
    return pem(ca), context


def test_tls_collector_with_its_ca_certificate_receives_octet_counted_records(allow_private, collector):
    ca, server_context = certificates()
    received, port = collector("tls", "octet_counting", tls=server_context)
    siem_output(port, protocol="tls", tcp_framing="octet_counting", ca_certificate=ca)
    with_on_commit(lambda: alert_for("TLS policy"))
    records = received.wait(1)
    assert any("|PLC-001|" in record and "flexString2=TLS policy " in record for record in records)
    assert re.match(rb"^\d+ <\d+>1 ", received.streams[0])


def test_tls_collector_whose_certificate_is_not_trusted_gets_nothing_and_the_row_says_why(allow_private, collector):
    _, server_context = certificates()
    other_ca, _ = certificates()
    received, port = collector("tls", tls=server_context)
    siem_output(port, protocol="tls", ca_certificate=other_ca)
    with_on_commit(lambda: alert_for())
    row = Notification.objects.get(stream=NotificationStream.AUDIT)
    assert row.status == NotificationStatus.PENDING and row.attempts == 1
    assert "certificate was refused" in row.last_error
    assert received.records == []


def test_tls_without_verification_still_encrypts(allow_private, collector):
    _, server_context = certificates()
    received, port = collector("tls", tls=server_context)
    siem_output(port, protocol="tls", tls_verify=False)
    with_on_commit(lambda: alert_for("Unverified"))
    assert any("flexString2=Unverified " in record for record in received.wait(1))


# --- at least once ------------------------------------------------------------------------------------------------------
def test_a_collector_that_was_down_gets_the_record_later_with_the_same_id(allow_private, collector):
    port = free_port()  # nobody listens yet
    siem_output(port, protocol="tcp")
    with_on_commit(lambda: alert_for("While down"))
    row = Notification.objects.get(stream=NotificationStream.AUDIT)
    assert row.status == NotificationStatus.PENDING and row.attempts == 1 and "Syslog to 127.0.0.1" in row.last_error
    assert row.next_attempt_at > timezone.now()  # retried with backoff

    received, _ = collector("tcp", port=port)
    Notification.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now())  # the backoff has passed
    assert delivery.sweep(timezone.now() + dt.timedelta(minutes=2)) == 1
    (record,) = received.wait(1)
    row.refresh_from_db()
    assert row.status == NotificationStatus.SENT and row.attempts == 2
    assert parse_cef(record)["extension"]["externalId"] == str(row.audit_entry_id)

    # A worker that died after sending (its lease ran out) makes the record go out again: same id, for the SIEM to
    # drop the duplicate.
    Notification.objects.filter(pk=row.pk).update(
        status=NotificationStatus.SENDING, claimed_until=timezone.now() - dt.timedelta(seconds=1)
    )
    assert delivery.deliver(row.pk) == NotificationStatus.SENT
    first, second = received.wait(2)
    assert parse_cef(first)["extension"]["externalId"] == parse_cef(second)["extension"]["externalId"]


def test_rows_are_made_once_per_entry_and_output(allow_private):
    first, second = siem_output(free_port(), "SIEM 1"), siem_output(free_port(), "SIEM 2")
    _, entry = alert_for()
    rows = Notification.objects.filter(stream=NotificationStream.AUDIT, audit_entry=entry)
    assert sorted(rows.values_list("integration_id", flat=True)) == [first.pk, second.pk]
    assert len(set(rows.values_list("idempotency_key", flat=True))) == 2


# --- the events stream -----------------------------------------------------------------------------------------------
def test_every_stored_event_reaches_a_siem_that_asked_for_them(
    allow_private, collector, django_capture_on_commit_callbacks
):
    events_wanted, port = collector("tcp")
    siem_output(port, "Events", protocol="tcp", security_log=False, security_events=True)
    log_only, other_port = collector("udp")
    siem_output(other_port, "Log only")
    items = [vulnerability(finding_id=f"CVE-2024-{n}", title=f"finding {n}") for n in range(3)]
    items.append({**vulnerability(), "type": "malware", "finding_id": "EICAR", "title": "eicar"})

    with django_capture_on_commit_callbacks(execute=True):
        result = ingest(items, source="api")

    records = events_wanted.wait(4)
    assert len(records) == 4
    parsed = [parse_cef(record) for record in records]
    assert {p["extension"]["externalId"] for p in parsed} == {str(pk) for pk in result.ids}
    assert all(p["extension"]["act"] == "stream" and "cs1" not in p["extension"] for p in parsed)
    assert {p["extension"]["cat"] for p in parsed} == {EventType.VULNERABILITY, EventType.MALWARE}
    row = Notification.objects.get(stream=NotificationStream.EVENTS)
    assert row.batch_id == result.batch_id and row.events.count() == 4 and row.status == NotificationStatus.SENT
    assert log_only.records == []  # its output streams the log only


def test_nothing_is_streamed_without_an_enabled_siem_output(allow_private):
    output = siem_output(free_port(), "Off", security_events=True)
    assert [target.id for target in siem.targets()] == [output.pk]
    output.enabled = False
    output.save()  # any change of an integration renews the revision the SIEM outputs are cached by
    assert siem.targets() == ()
    alert_for()
    ingest([vulnerability()], source="api")
    assert not Notification.objects.exclude(stream=NotificationStream.POLICY).exists()


def test_enabling_a_siem_output_streams_from_its_own_enable_entry(allow_private, collector, admin_api):
    received, port = collector("udp")
    output = siem_output(port)
    output.enabled = False
    output.save()
    with TestCase.captureOnCommitCallbacks(execute=True):
        answer = admin_api.patch(f"{API}/integrations/{output.pk}/", {"enabled": True}, format="json")
    assert answer.status_code == 200
    (record,) = received.wait(1)
    assert "|ADM-003|Notification integration enabled|" in record and "fname=SIEM " in record


# --- settings, screens and the API --------------------------------------------------------------------------------------
def test_an_api_client_that_leaves_settings_out_gets_a_siem_output_that_streams_the_log(admin_api):
    answer = admin_api.post(
        f"{API}/integrations/",
        {"name": "QRadar", "kind": "syslog", "config": {"host": "siem.example.com", "port": 6514, "protocol": "tls"}},
        format="json",
    )
    assert answer.status_code == 201, answer.json()
    config = answer.json()["config"]
    assert config["protocol"] == "tls" and config["format"] == "rfc5424" and config["tcp_framing"] == "newline"
    assert config["tls_verify"] is True and config["security_log"] is True and config["security_events"] is False


def test_a_ca_certificate_that_is_not_pem_is_refused_naming_the_field(admin_api):
    answer = admin_api.post(
        f"{API}/integrations/",
        {
            "name": "Bad CA",
            "kind": "syslog",
            "config": {"host": "siem.example.com", "port": 6514, "protocol": "tls", "ca_certificate": "not a cert"},
        },
        format="json",
    )
    assert answer.status_code == 400
    assert "PEM" in answer.json()["errors"]["config"]["ca_certificate"][0]
    assert not Notification.objects.exists() and not AuditEntry.objects.filter(object_repr="Bad CA").exists()

    broken = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----"
    answer = admin_api.post(
        f"{API}/integrations/",
        {"name": "Bad CA", "kind": "syslog", "config": {"host": "s.example.com", "port": 1, "ca_certificate": broken}},
        format="json",
    )
    assert answer.status_code == 400 and "readable" in answer.json()["errors"]["config"]["ca_certificate"][0]


def test_the_add_form_offers_transport_framing_tls_and_both_streams(admin_client):
    page = admin_client.get("/integrations/syslog/add/").content.decode()
    for text in (
        "SIEM (syslog CEF)",
        "TLS (TCP with TLS)",
        "RFC 3164 (BSD)",
        "Octet counting (RFC 6587, RFC 5425)",
        "Verify the collector",
        "CA certificate (PEM)",
        "Send the security event log",
        "Send every security event",
    ):
        assert text in page, text


def test_the_delivery_log_shows_policy_notifications_and_siem_rows_when_asked(allow_private, admin_client):
    siem_output(free_port())
    notification, entry = alert_for("Shown policy")
    siem_row = Notification.objects.get(stream=NotificationStream.AUDIT, audit_entry=entry)

    page = admin_client.get("/notifications/").content.decode()
    assert f"/notifications/{notification.pk}/" in page and f"/notifications/{siem_row.pk}/" not in page

    page = admin_client.get("/notifications/?show=siem").content.decode()
    assert f"/notifications/{siem_row.pk}/" in page and f"/notifications/{notification.pk}/" not in page
    assert "SIEM: security event log" in page

    page = admin_client.get("/notifications/?show=all").content.decode()
    assert f"/notifications/{siem_row.pk}/" in page and f"/notifications/{notification.pk}/" in page

    detail = admin_client.get(f"/notifications/{siem_row.pk}/").content.decode()
    assert "SIEM: security event log" in detail and f"entry #{entry.pk}" in detail


def test_the_api_tells_siem_rows_apart_and_filters_them(allow_private, admin_api):
    siem_output(free_port())
    notification, entry = alert_for()
    rows = admin_api.get(f"{API}/notifications/?stream=audit").json()["results"]
    assert [(row["stream"], row["policy"], row["audit_entry"]) for row in rows] == [("audit", None, entry.pk)]
    rows = admin_api.get(f"{API}/notifications/?stream=policy").json()["results"]
    assert [row["id"] for row in rows] == [notification.pk]
    assert admin_api.get(f"{API}/notifications/?stream=bogus").status_code == 400


def test_upgraded_syslog_outputs_keep_their_behaviour_and_stream_nothing_until_asked():
    import importlib

    from django.apps import apps

    old = make_integration("syslog", "Old", config={"host": "siem.example.com", "port": 514, "protocol": "tcp"})
    importlib.import_module("notifications.migrations.0009_siem").fill_syslog_settings(apps, None)
    old.refresh_from_db()
    assert old.config["tcp_framing"] == "newline" and old.config["protocol"] == "tcp"
    assert old.config["security_log"] is False and old.config["security_events"] is False


def test_the_log_retention_lets_siem_rows_drop_their_entries_first(allow_private):
    from kcs.retention import purge_audit_log
    from notifications.retention import release_audit_entries

    siem_output(free_port())
    _, entry = alert_for()
    row = Notification.objects.get(stream=NotificationStream.AUDIT)
    deleted = purge_audit_log(timezone.now() + dt.timedelta(seconds=1), before_delete=release_audit_entries)
    assert deleted["security event log entries"] >= 1 and not AuditEntry.objects.filter(pk=entry.pk).exists()
    row.refresh_from_db()
    assert row.audit_entry is None
    Notification.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now())
    assert delivery.deliver(row.pk) == NotificationStatus.FAILED
    row.refresh_from_db()
    assert "deleted before it was sent" in row.last_error


def test_the_event_page_lists_a_siem_stream_row_without_taking_it_for_a_policy(
    allow_private, admin_client, django_capture_on_commit_callbacks
):
    siem_output(free_port(), "Events SIEM", security_log=False, security_events=True)
    result = ingest([vulnerability()], source="api")
    page = admin_client.get(f"/events/{result.ids[0]}/").content.decode()
    assert "SIEM: security events" in page and "Events SIEM" in page
    assert "Matched policies" not in page and "(deleted)" not in page


def test_a_policy_alert_says_in_words_which_policy_raised_it(allow_private, collector):
    received, port = collector("udp")
    siem_output(port)
    with_on_commit(lambda: alert_for("Prod criticals"))
    (record,) = received.wait(1)
    assert record.startswith("<130>1 ")  # local0.critical: the alert's worst event is critical
    assert parse_cef(record)["extension"]["msg"] == (
        "Response policy Prod criticals (Critical vulnerabilities) raised an alert on "
        f"registry.example.com/shop/web:1.4.2@sha256:{'ab' * 32}"
    )


def test_an_expired_risk_acceptance_joins_its_family_in_both_streams(
    allow_private, collector, django_capture_on_commit_callbacks
):
    received, port = collector("tcp")
    siem_output(port, protocol="tcp", security_events=True)
    expired = {**vulnerability(), "type": "risk_acceptance_expired", "finding_id": "CVE-2024-3094", "title": "xz"}
    with django_capture_on_commit_callbacks(execute=True):
        ingest([expired], source="api")
        audit.record_many(
            [
                AuditEntry(action="accept", object_type="risk acceptance",
                           object_repr="CVE-2024-3094 (vulnerability) on registry.example.com/shop/web",
                           changes={"type": [None, "vulnerability"], "image": [None, "registry.example.com/shop/web"]},
                           source="ui", actor_name="alice", ip_address="10.0.0.7"),
                AuditEntry(action="expire", object_type="risk acceptance", object_repr="EICAR (malware) on shop/web",
                           changes={"state": ["active", "expired"]}, source="system", actor_name="system"),
                AuditEntry(action="extend", object_type="risk acceptance", object_repr="aws-key on shop/web",
                           changes={"finding_type": ["sensitive_data", "sensitive_data"]}, source="api"),
                AuditEntry(action="cancel", object_type="risk acceptance",
                           object_repr="KSV001 (misconfiguration) on every image", changes={}, source="api"),
            ]
        )  # fmt: skip
    received.wait(5)
    signatures = {parse_cef(record)["signature"]: parse_cef(record) for record in received.records}
    assert set(signatures) == {"CVE-004", "CVE-001", "MLW-004", "SD-002", "MS-003"}
    accepted = signatures["CVE-001"]
    assert accepted["name"] == "Risk accepted" and accepted["extension"]["suser"] == "alice"
    assert (
        accepted["extension"]["src"] == "10.0.0.7" and accepted["extension"]["fname"] == "registry.example.com/shop/web"
    )
    assert signatures["MLW-004"]["name"] == "Risk acceptance expired"
    assert signatures["SD-002"]["name"] == "Risk acceptance extended"
    assert signatures["MS-003"]["name"] == "Risk acceptance cancelled"
    assert signatures["CVE-004"]["extension"]["act"] == "stream"


def test_the_output_page_says_what_it_streams(admin_client):
    output = siem_output(6514, "Splunk", protocol="tls", security_events=True, ca_certificate="-----BEGIN " + "A" * 200)
    page = admin_client.get(f"/integrations/syslog/{output.pk}/").content.decode()
    assert "Send the security event log" in page and "Yes" in page and "tls://127.0.0.1:6514" in page
    assert "A" * 100 not in page  # a pasted certificate is shown by its start


def test_the_alert_an_evaluation_logs_reaches_the_siem_as_a_policy_record(
    allow_private, collector, django_capture_on_commit_callbacks
):
    from policies.evaluation import evaluate_batch

    received, port = collector("tcp", "octet_counting")
    siem_output(port, protocol="tcp", tcp_framing="octet_counting")
    make_policy("Prod = critical", [make_integration("email", "Platform team")])
    batch = make_batch(2)
    with django_capture_on_commit_callbacks(execute=True):
        evaluate_batch(str(batch.id))
    (record,) = [record for record in received.wait(1) if "|PLC-001|" in record]
    ext = parse_cef(record)["extension"]
    assert ext["flexString2"] == "Prod = critical" and ext["flexString1"] == "Response policy"
    assert ext["cs1"] == "Critical vulnerabilities" and ext["act"] == "alert"
    assert ext["fname"].startswith("registry.example.com/shop/web:1.4.2")
    entry = AuditEntry.objects.get(action="alert")
    assert ext["externalId"] == str(entry.pk)


def test_a_failed_sign_in_reaches_the_siem_as_a_failed_administration_record(
    allow_private, collector, django_capture_on_commit_callbacks
):
    received, port = collector("udp")
    siem_output(port)
    with django_capture_on_commit_callbacks(execute=True):
        audit.record_many(
            [
                AuditEntry(action="sign_in_failed", object_type="user", object_repr="mallory", actor_name="mallory",
                           ip_address="203.0.113.9", source="ui"),
            ]
        )  # fmt: skip
    cef = parse_cef(received.wait(1)[0])
    assert cef["signature"] == "ADM-010" and cef["name"] == "User sign-in failed" and cef["severity"] == "6"
    assert cef["extension"]["outcome"] == "Failure" and cef["extension"]["src"] == "203.0.113.9"
