"""A logging filter that takes known secret shapes out of every log record (settings attach it to every handler).

Our own code never logs a secret; this catches what libraries do (an HTTP client logging a request URL that holds a
Telegram bot token, an exception quoting a credentialed URL). It redacts the message, the formatted traceback and
the stack, leaving what is needed to read the line: ``/bot123456:[REDACTED]/sendMessage``,
``https://[REDACTED]@hooks.example.com/``, ``?token=[REDACTED]``.
"""

from __future__ import annotations

import logging
import re

REDACTED = "[REDACTED]"

_SHAPES: list[tuple[re.Pattern[str], str]] = [
    # Telegram bot tokens: "bot<id>:<secret>" in Bot API URLs, and a bare "<id>:<35-character secret>".
    (re.compile(r"(bot\d+:)[A-Za-z0-9_-]+"), rf"\1{REDACTED}"),
    (re.compile(r"\b(\d{6,}:)[A-Za-z0-9_-]{30,}"), rf"\1{REDACTED}"),
    # A URL's user name and password.
    (re.compile(r"(\b[a-zA-Z][a-zA-Z0-9+.-]*://)[^\s/?#@'\"<>]+@"), rf"\1{REDACTED}@"),
    # Query parameters that carry credentials (?token=…, &key=…, Power Automate's ?sig=…).
    (
        re.compile(
            r"([?&](?:[a-z0-9_-]*token|[a-z0-9_-]*key|sig|signature|secret|client_secret|password|passwd|pwd|auth|code)=)"
            r"[^&#\s'\"<>]+",
            re.IGNORECASE,
        ),
        rf"\1{REDACTED}",
    ),
    # Slack and Teams incoming-webhook paths, which are credentials themselves.
    (re.compile(r"(hooks\.slack\.com/(?:services|workflows|triggers)/)[^\s'\"<>]+"), rf"\1{REDACTED}"),
    (re.compile(r"(\.webhook\.office\.com/webhookb2/)[^\s'\"<>]+"), rf"\1{REDACTED}"),
    # Authorization-style headers, with or without a scheme word.
    (
        re.compile(
            r"((?:authorization|proxy-authorization|x-api-key|api-key|x-auth-token)['\"]?\s*[:=]\s*['\"]?)"
            r"(?:(?:bearer|token|basic)\s+)?[^\s'\",}]+",
            re.IGNORECASE,
        ),
        rf"\1{REDACTED}",
    ),
    # Our own API tokens.
    (re.compile(r"\b(kcs_)[A-Za-z0-9_-]{16,}"), rf"\1{REDACTED}"),
]


def redact(text: str) -> str:
    """``text`` with every known secret shape replaced by ``[REDACTED]``."""
    for pattern, replacement in _SHAPES:
        text = pattern.sub(replacement, text)
    return text


class RedactSecrets(logging.Filter):
    """Redacts the record in place (message, traceback, stack) and lets it through."""

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed call: the handler reports it; nothing to redact that we can read
            return True
        redacted = redact(message)
        if redacted != message or record.args:
            record.msg, record.args = redacted, None
        if record.exc_info and not record.exc_text:
            # Formatters reuse exc_text once set, so the traceback is formatted (and redacted) here, once.
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True
