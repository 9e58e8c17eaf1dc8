"""What each channel sends: payloads through the one HTTP helper (patched), mail through Django's outbox, syslog
through a loopback socket; and how each classifies failures."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import socket

import pytest
from django.core import mail

from events.models import Severity
from notifications.channels import Delivery, TransportError, channel_for
from notifications.channels.telegram import MAX_LENGTH
from notifications.messages import MessageContext
from notifications.models import Notification
from tests.factories import HMAC_SECRET, make_batch, make_integration
from tests.helpers import context_for, response, send

pytestmark = pytest.mark.django_db


def test_webhook_posts_signed_json_with_policy_events_and_delivery_headers(fake_http, settings):
    settings.KCS_BASE_URL = "https://kcs.example.com"
    batch = make_batch(2)
    worst = batch.events.order_by("id").last()
    SecurityEventUpdate = type(worst)
    SecurityEventUpdate.objects.filter(pk=worst.pk).update(severity=Severity.HIGH)
    send(make_integration("webhook"), batch)

    call = fake_http.last
    assert call["method"] == "POST" and call["url"] == "https://hooks.example.com/kcs"
    headers = call["headers"]
    assert headers["X-KCS-Delivery"] == "d-123"
    assert headers["X-KCS-Timestamp"] == "1700000000"
    expected = hmac.new(HMAC_SECRET.encode(), b"1700000000." + call["data"], hashlib.sha256).hexdigest()
    assert headers["X-KCS-Signature"] == f"sha256={expected}"
    body = json.loads(call["data"])
    assert body["policy"] == {"id": 7, "name": "Prod critical", "trigger": "critical_vulnerabilities"}
    assert body["event_count"] == 2 and body["counts"] == {"critical": 1, "high": 1}
    assert [e["severity"] for e in body["events"]] == ["critical", "high"]  # worst first
    first = body["events"][0]
    assert first["finding_id"].startswith("CVE-2024-") and first["fixed_version"] == "3.0.7"
    assert first["image"] == "registry.example.com/shop/web:1.4.2@sha256:" + "ab" * 32
    assert first["url"] == f"https://kcs.example.com/events/{first['id']}/"
    assert "Critical vulnerabilities: 2 findings" in body["summary"]


def test_webhook_body_template_substitutes_json_values(fake_http):
    template = '{"text": $summary, "who": $policy_name, "n": $event_count, "cost": "$$5", "first": ${events}}'
    integration = make_integration(
        "webhook", config={"url": "https://hooks.example.com/x", "auth": "none", "body_template": template}
    )
    batch = make_batch(1, title='quote " and <tag>')
    send(integration, batch)
    body = fake_http.body()
    assert body["who"] == "Prod critical" and body["n"] == 1 and body["cost"] == "$5"
    assert body["first"][0]["title"] == 'quote " and <tag>'
    assert "X-KCS-Signature" not in fake_http.last["headers"]


def test_webhook_basic_and_token_auth(fake_http):
    batch = make_batch(1)
    send(
        make_integration(
            "webhook",
            "basic",
            config={"url": "https://h.example.com/", "auth": "basic", "username": "kcs"},
            secrets={"password": "pw"},
        ),
        batch,
    )
    assert fake_http.last["auth"] == ("kcs", "pw")
    send(
        make_integration(
            "webhook",
            "token",
            config={"url": "https://h.example.com/", "auth": "token", "header_name": "X-API-Key"},
            secrets={"token": "tok"},
        ),
        batch,
    )
    assert fake_http.last["headers"]["X-API-Key"] == "tok"


@pytest.mark.parametrize(
    "status,permanent", [(400, True), (404, True), (410, True), (500, False), (503, False), (429, False), (408, False)]
)
def test_http_status_decides_whether_a_retry_can_help(fake_http, status, permanent):
    fake_http.answers.append(response(status, "nope", {"Retry-After": "7"}))
    with pytest.raises(TransportError) as failure:
        send(make_integration("slack"), make_batch(1))
    assert failure.value.permanent is permanent
    assert f"HTTP {status}" in failure.value.message and "nope" in failure.value.message
    assert failure.value.retry_after == (None if permanent else 7.0)


def test_telegram_sends_escaped_html_to_the_chat_and_thread(fake_http):
    integration = make_integration(
        "telegram", config={"chat_id": "@soc_alerts", "thread_id": 12, "api_base_url": "http://tg.local:8081"}
    )
    send(integration, make_batch(1, title="<script>alert(1)</script>", finding_id="", package="lib&co"))
    call = fake_http.last
    assert call["url"] == "http://tg.local:8081/bot123456:ABCdefGhIJKlmNoPQRsTUVwxyZ/sendMessage"
    payload = call["json"]
    assert payload["chat_id"] == "@soc_alerts" and payload["message_thread_id"] == 12
    assert payload["parse_mode"] == "HTML"
    assert "&lt;script&gt;" in payload["text"] and "<script>" not in payload["text"]
    assert "lib&amp;co" in payload["text"]
    assert "<b>Critical vulnerabilities</b>" in payload["text"]


def test_telegram_message_of_300_findings_fits_the_length_limit_and_counts_the_rest(fake_http):
    batch = make_batch(300, title="x" * 400)
    message = send(make_integration("telegram"), batch)
    assert len(message.body) <= MAX_LENGTH
    assert "300 findings" in message.body
    assert "more: " in message.body and "/notifications/42/" in message.body


@pytest.mark.parametrize(
    "status,answer,permanent,text",
    [
        (400, {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"}, True, "chat not found"),
        (401, {"ok": False, "error_code": 401, "description": "Unauthorized"}, True, "bot token"),
        (
            429,
            {
                "ok": False,
                "error_code": 429,
                "description": "Too Many Requests: retry after 5",
                "parameters": {"retry_after": 5},
            },
            False,
            "Too Many Requests",
        ),
        (502, "Bad Gateway", False, "HTTP 502"),
    ],
)
def test_telegram_errors_are_readable_and_classified(fake_http, status, answer, permanent, text):
    fake_http.answers.append(response(status, answer))
    with pytest.raises(TransportError) as failure:
        send(make_integration("telegram"), make_batch(1))
    assert failure.value.permanent is permanent and text in failure.value.message
    if status == 429:
        assert failure.value.retry_after == 5.0
    assert "ABCdef" not in failure.value.message  # the bot token never appears in an error


def test_slack_message_names_finding_package_fix_and_where_escaped(fake_http, settings):
    settings.KCS_BASE_URL = "https://kcs.example.com"
    batch = make_batch(1, title="a <b> & c")
    send(make_integration("slack"), batch)
    assert fake_http.last["url"] == "https://hooks.slack.com/services/T000/B000/XXXX"
    text = fake_http.last["json"]["text"]
    event = batch.events.get()
    assert f"<https://kcs.example.com/events/{event.pk}/|CVE-2024-1000>" in text
    assert "`openssl 3.0.1` → fixed in 3.0.7" in text
    assert "registry.example.com/shop/web:1.4.2@sha256:" in text
    assert "policy *Prod critical*" in text


def test_teams_posts_an_adaptive_card(fake_http):
    send(make_integration("teams"), make_batch(3))
    payload = fake_http.last["json"]
    card = payload["attachments"][0]["content"]
    assert payload["type"] == "message" and card["type"] == "AdaptiveCard"
    assert card["body"][0]["text"] == "Critical vulnerabilities: 3 findings (policy Prod critical)"
    assert "**Critical** [CVE-2024-1000]" in card["body"][1]["text"]


def test_email_has_subject_text_and_html_with_worst_first_capped_list(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.KCS_BASE_URL = "https://kcs.example.com"
    batch = make_batch(300)
    send(
        make_integration(
            "email", config={"recipients": ["a@example.com", "b@example.com"], "sender": "", "smtp": None}
        ),
        batch,
    )
    (message,) = mail.outbox
    assert message.to == ["a@example.com", "b@example.com"]
    assert message.subject == (
        "[KCS Response] Critical vulnerabilities: 300 findings, worst critical in "
        "registry.example.com/shop/web:1.4.2@sha256:" + "ab" * 32 + " (policy Prod critical)"
    )
    assert message.extra_headers["X-KCS-Delivery"] == "d-123"
    assert 'Response policy "Prod critical" (Critical vulnerabilities) fired for 300 events.' in message.body
    assert "[CRITICAL] Vulnerability: CVE-2024-1000 in openssl 3.0.1 (fixed in 3.0.7)" in message.body
    assert "... and 250 more events: https://kcs.example.com/notifications/42/" in message.body
    html, mime = message.alternatives[0]
    assert mime == "text/html" and html.count('<tr style="border-top') == 50 and "250 more events" in html


def test_email_with_own_smtp_server_refuses_private_destination_when_not_allowed(deny_private):
    integration = make_integration(
        "email",
        config={
            "recipients": ["a@example.com"],
            "sender": "",
            "smtp": {"host": "127.0.0.1", "port": 2525, "tls": "none", "username": ""},
        },
    )
    with pytest.raises(TransportError) as failure:
        send(integration, make_batch(1))
    assert failure.value.permanent and "127.0.0.1" in failure.value.message


def test_email_smtp_server_that_is_down_is_a_transient_failure(allow_private):
    with socket.socket() as probe:  # a loopback port with nobody listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    integration = make_integration(
        "email",
        config={
            "recipients": ["a@example.com"],
            "sender": "",
            "smtp": {"host": "127.0.0.1", "port": port, "tls": "none", "username": ""},
        },
    )
    with pytest.raises(TransportError) as failure:
        send(integration, make_batch(1))
    assert not failure.value.permanent and "mail server" in failure.value.message


@pytest.mark.parametrize("protocol", ["udp", "tcp"])
def test_syslog_sends_one_cef_line_per_event(allow_private, protocol):
    kind = socket.SOCK_DGRAM if protocol == "udp" else socket.SOCK_STREAM
    with socket.socket(socket.AF_INET, kind) as server:
        server.bind(("127.0.0.1", 0))
        server.settimeout(5)
        if protocol == "tcp":
            server.listen(1)
        integration = make_integration(
            "syslog", config={"host": "127.0.0.1", "port": server.getsockname()[1], "protocol": protocol}
        )
        send(integration, make_batch(2, title="a|b=c\nd", package="pkg"))
        if protocol == "tcp":
            conn, _ = server.accept()
            with conn:
                data = b""
                while data.count(b"\n") < 2:
                    data += conn.recv(65536)
            lines = data.decode().splitlines()
        else:
            lines = [server.recv(65536).decode() for _ in range(2)]
    assert len(lines) == 2
    line = lines[0]
    assert line.startswith("<130>1 ")  # local0.critical
    cef = line[line.index("CEF:0|") :]
    assert cef.startswith("CEF:0|KCS Response|KCS Response|1|vulnerability:CVE-2024-100")
    assert "|a\\|b=c d|10|" in cef  # header escaping: pipe escaped, new line flattened
    assert "cs1Label=policy cs1=Prod critical" in cef and "cs6Label=fixedVersion cs6=3.0.7" in cef
    assert "cs5=pkg 3.0.1" in cef


def test_notification_context_lists_policy_and_events_of_the_row(settings):
    settings.KCS_BASE_URL = "https://kcs.example.com"
    integration = make_integration("webhook")
    batch = make_batch(2)
    notification = Notification.objects.create(
        integration=integration, integration_name=integration.name, policy_name="Kept name", idempotency_key="k1"
    )
    notification.events.set(batch.events.all())
    data = MessageContext.for_notification(notification).as_dict(1)
    assert data["policy_name"] == "Kept name" and data["total"] == 2 and data["listed"] == 1 and data["more"] == 1
    assert data["detail_url"] == f"https://kcs.example.com/notifications/{notification.pk}/"


# Every line boundary str.splitlines() knows, besides CR and LF.
LINE_SEPARATORS = ["\u2028", "\u2029", "\x85", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e"]


@pytest.mark.parametrize("separator", LINE_SEPARATORS)
def test_a_line_separator_in_a_finding_cannot_forge_a_second_syslog_record(allow_private, separator):
    forged = f"pkg{separator}<13>1 2024-01-01T00:00:00Z forged kcs-response - - - CEF:0|Forged|Forged|1|x|forged|10|"
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.settimeout(5)
        server.listen(1)
        integration = make_integration(
            "syslog", config={"host": "127.0.0.1", "port": server.getsockname()[1], "protocol": "tcp"}
        )
        message = send(
            integration,
            make_batch(1, package=forged, title=f"t{separator}itle", finding_id=f"CVE{separator}1"),
        )
        conn, _ = server.accept()
        with conn:
            data = b""
            while not data.endswith(b"\n"):
                data += conn.recv(65536)
    text = data.decode()
    # One record, framed by its one newline, and nothing a SIEM splitting on any line boundary would cut apart.
    assert text.count("\n") == 1 and len(text.splitlines()) == 1
    assert len(message.body.splitlines()) == 1
    assert "cs5=pkg\\n<13>1 " in text


@pytest.mark.parametrize("separator", LINE_SEPARATORS + ["\r\n", "\r", "\n"])
def test_cef_values_and_headers_escape_every_line_separator(separator):
    from notifications.templatetags.message_format import cef_header, cef_value

    assert cef_value(f"a{separator}b") == "a\\nb"
    assert len(cef_header(f"a{separator}b").splitlines()) == 1


DISGUISED = "CVE-1](https://evil.example/phish) [x"
_MARKDOWN_LINK = re.compile(r"(?<!\\)\]\((?P<target>(?:\\.|[^)\\])*)\)")


def test_teams_messages_escape_markdown_so_no_finding_becomes_a_link_or_formatting(fake_http, settings):
    settings.KCS_BASE_URL = "https://kcs.example.com"
    batch = make_batch(
        1,
        finding_id=DISGUISED,
        package="p_kg*](https://evil.example/p)",
        installed_version="1`x`",
        fixed_version="<https://evil.example/f>",
        repository="shop/**web**",
    )
    integration = make_integration("teams", "Ops [out](https://evil.example/n)")
    channel = channel_for(integration)
    message = channel.render(context_for(batch, policy_name="P](https://evil.example/t)", integration_name="x"))
    channel.send(message, Delivery(key="d-1", timestamp=1))
    card = fake_http.last["json"]["attachments"][0]["content"]
    title, text = card["body"][0]["text"], card["body"][1]["text"]
    event = batch.events.get()
    assert [m["target"] for m in _MARKDOWN_LINK.finditer(text)] == [f"https://kcs.example.com/events/{event.pk}/"]
    assert not _MARKDOWN_LINK.search(title)
    assert "[CVE-1\\]\\(https://evil.example/phish\\) \\[x](" in text  # shown as typed, as the link's label
    assert "p\\_kg\\*" in text and "1\\`x\\`" in text and "\\<https://evil.example/f\\>" in text
    assert "shop/\\*\\*web\\*\\*" in text


def test_slack_messages_escape_mrkdwn_so_no_finding_becomes_a_link_or_mention(fake_http, settings):
    settings.KCS_BASE_URL = "https://kcs.example.com"
    batch = make_batch(
        1,
        finding_id="CVE-1|<https://evil.example/phish|click>",
        package="<!channel> & <@U123>",
        fixed_version="1\n• *Critical* <https://evil.example|forged line>",
    )
    send(make_integration("slack"), batch)
    text = fake_http.last["json"]["text"]
    event = batch.events.get()
    assert re.findall(r"<([^<>|]*)[|>]", text) == [f"https://kcs.example.com/events/{event.pk}/"]
    assert "&lt;!channel&gt; &amp; &lt;@U123&gt;" in text
    assert "\n• *Critical* &lt;" not in text  # a value cannot start a line of its own


@pytest.mark.parametrize("kind,escape", [("slack", "slack"), ("teams", "teams")], ids=["slack", "teams"])
def test_every_variable_of_chat_templates_goes_through_the_format_filter(kind, escape):
    from django.conf import settings

    folder = settings.BASE_DIR / "templates" / "messages" / kind
    unescaped = []
    for path in sorted(folder.iterdir()):
        source = path.read_text()
        expressions = re.findall(r"\{\{\s*(.*?)\s*\}\}", source)
        for args in re.findall(r"\{%\s*firstof\s+(.*?)\s*%\}", source):
            expressions += args.split()
        unescaped += [
            (path.name, expression)
            for expression in expressions
            if not expression.endswith(f"|{escape}") and not expression.endswith("|pluralize")
        ]
    assert unescaped == []
