"""No log line carries a secret, even at LOG_LEVEL=debug: urllib3 (which logs each request's URL, the Telegram bot
token among it) is quiet, and every record passes a filter that redacts known secret shapes."""

from __future__ import annotations

import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

TOKEN = "123456:ABCdefGhIJKlmNoPQRsTUVwxyZ"


@pytest.fixture
def telegram_server():
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"] or 0))
            body = b'{"ok": true, "result": {}}'
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.django_db
def test_a_telegram_message_at_debug_level_logs_no_bot_token(settings, caplog, telegram_server):
    from notifications.channels import Delivery, channel_for
    from notifications.channels.http import _local
    from notifications.messages import MessageContext
    from tests.factories import make_integration

    settings.KCS_ALLOW_PRIVATE_DESTINATIONS = True
    _local.__dict__.clear()
    caplog.set_level(logging.DEBUG)
    integration = make_integration(
        "telegram", config={"chat_id": "-100123", "api_base_url": telegram_server}, secrets={"bot_token": TOKEN}
    )
    channel = channel_for(integration)
    channel.send(channel.render(MessageContext.sample(integration, "k")), Delivery(key="k", timestamp=1))
    assert logging.getLogger("notifications").isEnabledFor(logging.DEBUG)  # debug really is on
    assert "ABCdef" not in caplog.text
    assert logging.getLogger("urllib3.connectionpool").getEffectiveLevel() == logging.WARNING


SECRETS = [
    ("POST /bot123456:ABCdefGhIJKlmNoPQRsTUVwxyZ/sendMessage HTTP/1.1", "ABCdefGhIJKlmNoPQRsTUVwxyZ"),
    ("token 7012345678:AAHk3x-y_zQW1e2r3t4y5u6i7o8p9a0s1d2 in an error", "AAHk3x-y_zQW1e2r3t4y5u6i7o8p9a0s1d2"),
    ("posting to https://kcs:hunter2@hooks.example.com/in", "hunter2"),
    ("posting to https://hooks.example.com/in?token=s3cr3t-value&x=1", "s3cr3t-value"),
    ("posting to https://hooks.example.com/in?api_key=s3cr3t-value", "s3cr3t-value"),
    ("https://prod.westeurope.logic.azure.com/workflows/1/triggers/manual/paths/invoke?sig=s3cr3t-value", "s3cr3t"),
    ("https://hooks.slack.com/services/T000/B000/XXXXs3cr3tXXXX", "XXXXs3cr3tXXXX"),
    ("https://example.webhook.office.com/webhookb2/abc@def/IncomingWebhook/s3cr3t/guid", "s3cr3t"),
    ("headers {'Authorization': 'Bearer s3cr3t-value'}", "s3cr3t-value"),
    ("header X-API-Key: s3cr3t-value", "s3cr3t-value"),
    ("API token kcs_Zx8sKd93nfk20dkfjs83jdkf9s0dkfjs83jdkf9s0dk issued", "Zx8sKd93nfk20dkfjs83jdkf9s0dk"),
]


@pytest.mark.parametrize("text,secret", SECRETS)
def test_every_log_record_is_redacted_by_the_configured_filter(caplog, text, secret):
    from kcs.log_redaction import RedactSecrets

    caplog.set_level(logging.DEBUG)
    caplog.handler.addFilter(RedactSecrets())
    logging.getLogger("anything.at.all").debug("sent: %s", text)
    try:
        raise RuntimeError(text)
    except RuntimeError:
        logging.getLogger("kcs.tests").exception("failed")
    assert secret not in caplog.text
    assert "[REDACTED]" in caplog.text


def test_every_configured_handler_redacts_secrets():
    from kcs.log_redaction import RedactSecrets

    handlers = logging.getLogger().handlers
    assert handlers
    for handler in handlers:
        if handler.__class__.__module__.startswith("_pytest"):
            continue  # pytest's own capture handlers
        assert any(isinstance(f, RedactSecrets) for f in handler.filters), handler
