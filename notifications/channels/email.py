"""Email: a text and an HTML body from templates, through the system mail backend or the output's own SMTP server.

The system backend is Django's (``EMAIL_*`` settings: SMTP, or any django-anymail provider chosen with
``EMAIL_BACKEND``); an output may name its own SMTP server instead (host, port, TLS mode, user, password). That
server's name is resolved and checked once, and the connection goes to the checked address, while TLS (SMTPS or
STARTTLS) still verifies the certificate against the name.
"""

from __future__ import annotations

import functools
import smtplib
from email.utils import parseaddr
from typing import Any

from anymail.exceptions import AnymailError, AnymailInvalidAddress, AnymailRecipientsRefused
from django import forms
from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.backends.smtp import EmailBackend
from django.core.validators import validate_email

from notifications.channels.base import Channel, Delivery, Message, TransportError
from notifications.channels.http import Address, connect, resolve_destination
from notifications.forms import IntegrationForm, MultiEmailField, clean_host, secret_field
from notifications.messages import MessageContext
from notifications.templating import TemplateSlot

TLS_MODES = [("starttls", "STARTTLS"), ("tls", "TLS (SMTPS)"), ("none", "None")]


class EmailForm(IntegrationForm):
    recipients = MultiEmailField(
        label="Recipients", help_text="One or more addresses, one per line or comma-separated."
    )
    sender = forms.CharField(
        label="Sender",
        required=False,
        max_length=254,
        help_text="Optional, e.g. KCS Response <kcs@example.com>; default DEFAULT_FROM_EMAIL.",
    )
    smtp_mode = forms.ChoiceField(
        label="Mail server",
        initial="system",
        widget=forms.RadioSelect,
        choices=[("system", "The system mail backend (EMAIL_* settings)"), ("custom", "This SMTP server:")],
    )
    smtp_host = forms.CharField(label="SMTP host", required=False, max_length=255)
    smtp_port = forms.IntegerField(label="SMTP port", required=False, min_value=1, max_value=65535, initial=587)
    smtp_tls = forms.ChoiceField(label="TLS", required=False, choices=TLS_MODES, initial="starttls")
    smtp_username = forms.CharField(label="SMTP user", required=False, max_length=255)
    smtp_password = secret_field("SMTP password")

    config_fields = ("recipients", "sender")
    secret_fields = ("smtp_password",)
    destination_label = "The SMTP server"
    _smtp_keys = ("host", "port", "tls", "username")

    @classmethod
    def destination(cls, config: dict[str, Any]) -> Any:
        smtp = config.get("smtp")
        host = smtp.get("host") if isinstance(smtp, dict) else None
        return host.lower().rstrip(".") if host else None

    @classmethod
    def config_keys(cls) -> tuple[str, ...]:
        return (*cls.config_fields, "smtp")

    @classmethod
    def data_from_config(cls, config: dict[str, Any]) -> dict[str, Any]:
        data = super().data_from_config(config)
        smtp = config.get("smtp")
        data["smtp_mode"] = "custom" if smtp else "system"
        if isinstance(smtp, dict):
            data.update({f"smtp_{key}": smtp[key] for key in cls._smtp_keys if key in smtp})
        return data

    def to_config(self) -> dict[str, Any]:
        config = super().to_config()
        config["smtp"] = None
        if self.cleaned_data.get("smtp_mode") == "custom":
            config["smtp"] = {key: self.cleaned_data.get(f"smtp_{key}") for key in self._smtp_keys}
        return config

    @classmethod
    def error_path(cls, field: str) -> tuple[str, ...]:
        if field.startswith("smtp_") and field[5:] in cls._smtp_keys:
            return ("config", "smtp", field[5:])
        if field == "smtp_mode":
            return ("config", "smtp")
        return super().error_path(field)

    def required_secrets(self, cleaned: dict[str, Any]) -> set[str]:
        # A password only makes sense with a user of our own server; without one the server is used anonymously.
        if cleaned.get("smtp_mode") == "custom" and cleaned.get("smtp_username"):
            return {"smtp_password"}
        return set()

    def clean_smtp_host(self) -> str:
        host = self.cleaned_data["smtp_host"]
        return clean_host(host) if host else ""

    def clean_sender(self) -> str:
        sender = self.cleaned_data["sender"].strip()
        if sender:
            _, address = parseaddr(sender)
            try:
                validate_email(address)
            except forms.ValidationError:
                raise forms.ValidationError("Enter an address, optionally with a name: Name <addr@example.com>.")
        return sender

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if not cleaned.get("recipients") and "recipients" not in self.errors:
            self.add_error("recipients", "At least one recipient is needed.")
        if cleaned.get("smtp_mode") == "custom":
            if not cleaned.get("smtp_host"):
                self.add_error("smtp_host", "Enter the SMTP server's host name.")
            cleaned["smtp_port"] = cleaned.get("smtp_port") or 587
            cleaned["smtp_tls"] = cleaned.get("smtp_tls") or "starttls"
        return cleaned


class _PinnedSMTP(smtplib.SMTP):
    """SMTP to addresses checked beforehand (:func:`~notifications.channels.http.resolve_destination`) instead of
    a new lookup of the name. The name stays the one given to ``connect()``, so STARTTLS checks the certificate
    against it (``server_hostname``)."""

    def __init__(self, *args, addresses: list[Address], **kwargs):
        self.addresses = addresses
        super().__init__(*args, **kwargs)

    def _get_socket(self, host, port, timeout):
        return connect(self.addresses, timeout if isinstance(timeout, (int, float)) else None)


class _PinnedSMTPSSL(smtplib.SMTP_SSL, _PinnedSMTP):
    """SMTPS to checked addresses: SMTP_SSL wraps the socket that _PinnedSMTP opened, verifying the name."""

    def __init__(self, *args, addresses: list[Address], **kwargs):
        self.addresses = addresses
        smtplib.SMTP_SSL.__init__(self, *args, **kwargs)


class PinnedEmailBackend(EmailBackend):
    """Django's SMTP backend connecting only to ``addresses``, the checked addresses of ``host``."""

    def __init__(self, *, addresses: list[Address], **kwargs):
        super().__init__(**kwargs)
        self.addresses = addresses

    @property
    def connection_class(self):
        return functools.partial(_PinnedSMTPSSL if self.use_ssl else _PinnedSMTP, addresses=self.addresses)


def _mail_error(exc: Exception) -> TransportError:
    """Classify a mail failure: refusals and bad credentials are permanent, the rest may pass."""
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return TransportError("The SMTP server refused the user name or password.", permanent=True)
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        refused = ", ".join(sorted(exc.recipients))
        return TransportError(f"The SMTP server refused the recipients: {refused}", permanent=True)
    if isinstance(exc, smtplib.SMTPResponseException):
        reply = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        return TransportError(f"The SMTP server answered {exc.smtp_code}: {reply}", permanent=exc.smtp_code >= 500)
    if isinstance(exc, smtplib.SMTPException):
        return TransportError(f"SMTP error: {exc}")
    if isinstance(exc, OSError):  # refused, reset, timed out, TLS failure
        return TransportError(f"Could not talk to the mail server: {exc.__class__.__name__}: {exc}")
    if isinstance(exc, (AnymailRecipientsRefused, AnymailInvalidAddress)):
        return TransportError(f"The email provider refused the message: {exc}", permanent=True)
    if isinstance(exc, AnymailError):
        status = getattr(exc, "status_code", None)
        transient = status is None or status in (408, 429) or status >= 500
        return TransportError(f"The email provider failed: {exc}", permanent=not transient)
    return TransportError(f"Sending mail failed: {exc.__class__.__name__}: {exc}")


class EmailChannel(Channel):
    kind = "email"
    label = "Email"
    description = "Messages to one or more addresses, through the system mail backend or an SMTP server."
    form_class = EmailForm
    list_limit = 50
    templates = (
        TemplateSlot("subject_template", "subject.txt", "Subject", "text"),
        TemplateSlot("text_template", "body.txt", "Text body", "text"),
        TemplateSlot("html_template", "body.html", "HTML body", "html"),
    )

    def destination(self) -> str:
        recipients = self.config.get("recipients") or []
        shown = ", ".join(recipients[:3])
        return f"{shown} (+{len(recipients) - 3})" if len(recipients) > 3 else shown

    def render(self, context: MessageContext) -> Message:
        data = context.as_dict(self.list_limit)
        subject = " ".join(self.render_template("subject.txt", data).split())
        return Message(
            subject=subject, body=self.render_template("body.txt", data), html=self.render_template("body.html", data)
        )

    def _connection(self):
        smtp = self.config.get("smtp")
        if not smtp:
            return get_connection(fail_silently=False)
        return PinnedEmailBackend(
            addresses=resolve_destination(smtp["host"], int(smtp["port"])),
            fail_silently=False,
            host=smtp["host"],
            port=int(smtp["port"]),
            username=smtp.get("username") or None,
            password=self.secrets.get("smtp_password") or None,
            use_tls=smtp.get("tls") == "starttls",
            use_ssl=smtp.get("tls") == "tls",
            timeout=settings.EMAIL_TIMEOUT,
        )

    def send(self, message: Message, delivery: Delivery) -> None:
        email = EmailMultiAlternatives(
            subject=message.subject,
            body=message.body,
            from_email=self.config.get("sender") or settings.DEFAULT_FROM_EMAIL,
            to=list(self.config.get("recipients") or []),
            headers={"X-KCS-Delivery": delivery.key},
            connection=self._connection(),
        )
        if message.html:
            email.attach_alternative(message.html, "text/html")
        try:
            email.send()
        except Exception as exc:  # backends raise smtplib, socket, ssl and anymail errors: all are classified
            raise _mail_error(exc) from None
