"""Generic webhook: JSON POST with an editable body template, optional auth and a requests-per-second limit.

Every delivery carries ``X-KCS-Delivery`` (the idempotency key: the same for every attempt of one notification),
``X-KCS-Timestamp`` (Unix seconds) and, with HMAC auth, ``X-KCS-Signature: sha256=<hex>`` over
``"<timestamp>.<raw body>"``, so a receiver can check authenticity, reject replays and drop duplicates. HMAC may use
SHA-512 instead (``sha512=<hex>``) and another header name.

The body template is JSON in which ``$name``, ``${name}`` or KCS's ``$$name$$`` stands for a variable (see
:mod:`notifications.templating`, format ``json``): outside a string it becomes the value's JSON, inside a string
its JSON-escaped text, so the result is always valid JSON and nothing in an event can break out of it; ``$$`` alone
is a literal dollar sign. KCS's variable names are accepted too (:data:`KCS_VARIABLES`), so a body written for KCS
webhooks sends what its receiver expects.

Credentials inside the URL — its user info (``https://user:pass@host/``) and its query string (``?token=…``) — are
secrets like the others: ``config.url`` keeps ``***`` in their place (``https://***@host/path?***``), the
encrypted secrets keep ``url_userinfo`` and ``url_query``, and :func:`full_url` puts them back only to send. A URL
sent back with the ``***`` in place keeps the stored values.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from django import forms
from django.template.loader import render_to_string

from events.models import EventType
from notifications import templating
from notifications.channels import http
from notifications.channels.base import Channel, Delivery, Message, TransportError
from notifications.forms import IntegrationForm, secret_field, url_destination
from notifications.messages import MessageContext, event_json
from notifications.templating import TemplateFailed, TemplateSlot

# What stands in config.url for the credentials moved into the secrets.
URL_MASK = "***"
URL_SECRETS = ("url_userinfo", "url_query")

_HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")

# Variables of the body template, with what each holds (shown on the form and in the README).
VARIABLES = {
    "delivery_id": "the idempotency key (also in X-KCS-Delivery)",
    "timestamp": "when the notification was created (ISO 8601)",
    "policy_id": "the response policy's id",
    "policy_name": "the response policy's name",
    "trigger": "the policy's trigger slug, e.g. critical_vulnerabilities",
    "trigger_label": "the trigger's name, e.g. Critical vulnerabilities",
    "integration_name": "this integration's name",
    "summary": "a one-paragraph text summary",
    "event_count": "number of events in the notification",
    "listed_count": "number of events in $events",
    "more_count": "events not listed in $events",
    "counts": 'events per severity, e.g. {"critical": 3}',
    "worst_severity": "the highest severity slug",
    "images": "distinct images (registry/repository:tag@digest)",
    "workloads": "distinct workloads (cluster/namespace/pod)",
    "registry": "registry of the worst event",
    "repository": "repository of the worst event",
    "tag": "tag of the worst event",
    "digest": "digest of the worst event",
    "cluster": "cluster of the worst event",
    "namespace": "namespace of the worst event",
    "events": "the events, worst first, as objects",
    "is_test": "true for a test message",
}
# KCS 2.1's names, for bodies written for its webhooks (``$$name$$``); counts are over every event of the message.
KCS_VARIABLES = {
    "response_policy_name": "the response policy's name (as policy_name)",
    "image_name": "image of the worst event: repository:tag (or @digest)",
    "registry_name": "registry of the worst event",
    "compliance_verdict": '"non-compliant" when the message carries a non-compliant event, else "compliant"',
    "malware_count": "malware events",
    "vulnerabilities_count": "vulnerability events",
    "sensitive_data_count": "sensitive data events",
    "misconfigurations_count": "misconfiguration events",
}
HMAC_ALGORITHMS = {"sha256": hashlib.sha256, "sha512": hashlib.sha512}
SIGNATURE_HEADER = "X-KCS-Signature"
DEFAULT_RATE_LIMIT = 150.0  # requests per second, as KCS


def default_body_template() -> str:
    return render_to_string("messages/webhook/body.json").strip()


def template_variables(context: MessageContext, limit: int, summary: str) -> dict[str, Any]:
    data = context.as_dict(limit)
    first = context.events[0] if context.events else None
    return {
        "delivery_id": context.delivery_id,
        "timestamp": context.created_at.isoformat(),
        "policy_id": context.policy_id,
        "policy_name": context.policy_name,
        "trigger": str(context.trigger),
        "trigger_label": context.trigger_label,
        "integration_name": context.integration_name,
        "summary": summary,
        "event_count": data["total"],
        "listed_count": data["listed"],
        "more_count": data["more"],
        "counts": {row["severity"]: row["count"] for row in data["counts"]},
        "worst_severity": data["worst_severity"],
        "images": list(dict.fromkeys(e.image_reference for e in context.events if e.image_reference)),
        "workloads": list(dict.fromkeys(e.workload_reference for e in context.events if e.workload_reference)),
        "registry": first.registry if first else "",
        "repository": first.repository if first else "",
        "tag": first.tag if first else "",
        "digest": first.digest if first else "",
        "cluster": first.cluster if first else "",
        "namespace": first.namespace if first else "",
        "events": [event_json(line) for line in data["events"]],
        "is_test": context.is_test,
        **kcs_variables(context),
    }


def kcs_variables(context: MessageContext) -> dict[str, Any]:
    """The values of :data:`KCS_VARIABLES` for ``context``."""
    first = context.events[0] if context.events else None
    image = ""
    if first is not None and first.repository:
        image = first.repository + (f":{first.tag}" if first.tag else f"@{first.digest}" if first.digest else "")
    types = [event.type for event in context.events]
    return {
        "response_policy_name": context.policy_name,
        "image_name": image,
        "registry_name": first.registry if first else "",
        "compliance_verdict": "non-compliant" if EventType.NON_COMPLIANT in types else "compliant",
        "malware_count": types.count(EventType.MALWARE),
        "vulnerabilities_count": types.count(EventType.VULNERABILITY),
        "sensitive_data_count": types.count(EventType.SENSITIVE_DATA),
        "misconfigurations_count": types.count(EventType.MISCONFIGURATION),
    }


def split_url(url: str) -> tuple[str, dict[str, str]]:
    """``url`` with its user info and query string replaced by ``***``, and the two parts taken out (empty when
    absent): ``("https://***@h/p?***", {"url_userinfo": "user:pass", "url_query": "token=…"})``."""
    parts = urlsplit(url)
    userinfo, at, host = parts.netloc.rpartition("@")
    netloc = f"{URL_MASK}@{host}" if at else host
    masked = urlunsplit((parts.scheme, netloc, parts.path, URL_MASK if parts.query else "", parts.fragment))
    return masked, {"url_userinfo": userinfo, "url_query": parts.query}


def masked_parts(url: str) -> set[str]:
    """The URL secrets ``url`` (as stored: masked) stands for."""
    parts = urlsplit(url)
    found = set()
    if parts.netloc.startswith(f"{URL_MASK}@"):
        found.add("url_userinfo")
    if parts.query == URL_MASK:
        found.add("url_query")
    return found


def full_url(url: str, secrets: dict[str, str]) -> str:
    """The URL to send to: ``url`` (as stored) with the credentials of ``secrets`` back in place of ``***``."""
    masked = masked_parts(url)
    if not masked:
        return url
    parts = urlsplit(url)
    netloc, query = parts.netloc, parts.query
    if "url_userinfo" in masked:
        host = netloc.partition("@")[2]
        netloc = f"{secrets['url_userinfo']}@{host}" if secrets.get("url_userinfo") else host
    if "url_query" in masked:
        query = secrets.get("url_query", "")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def signature(secret: str, timestamp: int, body: bytes, algorithm: str = "sha256") -> str:
    """``<algorithm>=<hex HMAC of "<timestamp>.<raw body>">`` — what the signature header carries
    (``sha256=…`` by default, ``sha512=…`` with SHA-512)."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, HMAC_ALGORITHMS[algorithm]).hexdigest()
    return f"{algorithm}={digest}"


class WebhookForm(IntegrationForm):
    url = forms.URLField(
        label="URL",
        max_length=2000,
        assume_scheme="https",
        help_text="Receives a JSON POST for each notification. A user name and password or a query string in it are "
        "stored encrypted and shown as ***; leave the *** to keep them.",
    )
    auth = forms.ChoiceField(
        label="Authentication",
        initial="none",
        choices=[
            ("none", "Open (no authentication)"),
            ("basic", "Basic (user name and password)"),
            ("hmac", "HMAC signature"),
            ("token", "API token header"),
        ],
    )
    username = forms.CharField(label="User name", required=False, max_length=200, help_text="Basic auth only.")
    password = secret_field("Password", "Basic auth only.")
    hmac_secret = secret_field("HMAC secret", 'Signs the request: <algorithm>=HMAC(secret, "<timestamp>.<body>").')
    hmac_algorithm = forms.ChoiceField(
        label="HMAC algorithm",
        required=False,
        initial="sha256",
        choices=[("sha256", "SHA-256"), ("sha512", "SHA-512")],
        help_text="HMAC auth only.",
    )
    signature_header = forms.CharField(
        label="Signature header",
        required=False,
        max_length=100,
        initial=SIGNATURE_HEADER,
        help_text=f"HMAC auth only: the header carrying the signature (default {SIGNATURE_HEADER}).",
    )
    header_name = forms.CharField(
        label="Token header",
        required=False,
        max_length=100,
        initial="Authorization",
        help_text="API token auth only, e.g. Authorization or X-API-Key.",
    )
    token = secret_field("Token", "API token auth only: the header's whole value, e.g. Bearer abc123.")
    rate_limit = forms.FloatField(
        label="Requests per second",
        required=False,
        min_value=0.01,
        max_value=1000,
        initial=DEFAULT_RATE_LIMIT,
        help_text="Messages beyond it wait for a slot, the newest first (as in KCS); empty: no limit.",
    )

    config_fields = (
        "url", "auth", "username", "header_name", "hmac_algorithm", "signature_header", "body_template", "rate_limit",
    )  # fmt: skip
    secret_fields = ("password", "hmac_secret", "token")
    derived_secrets = URL_SECRETS
    destination_label = "The URL's scheme, host or port"
    _secret_by_auth = {"basic": "password", "hmac": "hmac_secret", "token": "token"}

    @classmethod
    def destination(cls, config: dict[str, Any]) -> Any:
        return url_destination(config.get("url"))

    def required_secrets(self, cleaned: dict[str, Any]) -> set[str]:
        secret = self._secret_by_auth.get(cleaned.get("auth") or "none")
        return ({secret} if secret else set()) | masked_parts(cleaned.get("url") or "")

    def clean_url(self) -> str:
        url = self.cleaned_data["url"]
        if not url.lower().startswith(("http://", "https://")):
            raise forms.ValidationError("Use an http:// or https:// URL.")
        # Stored masked; the credentials go with the other secrets (``***``: keep the stored ones, see clean()).
        masked, self.url_secrets = split_url(url)
        return masked

    def clean_rate_limit(self) -> float | None:
        # Left out altogether (an API client that does not know it): KCS's default. Sent empty: no limit.
        if self.prefix is None and "rate_limit" not in self.data:
            return DEFAULT_RATE_LIMIT
        return self.cleaned_data["rate_limit"]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        missing, moved = [], []
        for name, value in getattr(self, "url_secrets", {}).items():
            # A new value replaces the stored one; "***" keeps it, if there is one and the host is the same.
            cleaned[name] = "" if value == URL_MASK else value
            part = "user name and password" if name == "url_userinfo" else "query string"
            if value == URL_MASK and name not in self.stored_secrets:
                missing.append(part)
            elif value == URL_MASK and not self.keeps_stored_secrets:
                moved.append(part)
        if missing:
            self.add_error("url", f"No {' or '.join(missing)} is stored for *** to stand for: enter it in the URL.")
        if moved:
            self.add_error(
                "url",
                f"{self.destination_label} changed, so the stored {' and '.join(moved)} is not sent there: "
                "enter it in the URL again.",
            )
        auth = cleaned.get("auth")
        if auth == "basic" and not cleaned.get("username"):
            self.add_error("username", "Basic authentication needs a user name.")
        if auth == "token":
            header = cleaned.get("header_name") or "Authorization"
            if not _HEADER_NAME.match(header):
                self.add_error("header_name", "Not a valid HTTP header name.")
            cleaned["header_name"] = header
        if auth == "hmac":
            cleaned["hmac_algorithm"] = cleaned.get("hmac_algorithm") or "sha256"
            header = cleaned.get("signature_header") or SIGNATURE_HEADER
            if not _HEADER_NAME.match(header):
                self.add_error("signature_header", "Not a valid HTTP header name.")
            cleaned["signature_header"] = header
        return cleaned


class WebhookChannel(Channel):
    kind = "webhook"
    label = "Webhook"
    description = "JSON POST to any URL, signed with HMAC or authenticated by password or token."
    form_class = WebhookForm
    list_limit = 500
    templates = (TemplateSlot("body_template", "body.json", "Body", "json"),)

    @property
    def rate_limit(self) -> float | None:
        return self.config.get("rate_limit") or None

    def destination(self) -> str:
        return urlsplit(self.config.get("url", "")).hostname or ""

    def template_data(self, slot: TemplateSlot, context: MessageContext) -> dict[str, Any]:
        summary = self.render_template("summary.txt", context.as_dict(20))
        return template_variables(context, self.list_limit, summary)

    @classmethod
    def template_variables(cls, slot: TemplateSlot) -> dict[str, str]:
        return {**VARIABLES, **KCS_VARIABLES}

    def render(self, context: MessageContext) -> Message:
        values = self.template_data(self.templates[0], context)
        try:
            body = templating.render(self.config.get("body_template") or default_body_template(), "json", values)
        except TemplateFailed as exc:
            raise TransportError(f"The body template fails: {exc.message}", permanent=True) from None
        summary = values["summary"]
        return Message(subject=summary.splitlines()[0] if summary else "", body=body)

    def send(self, message: Message, delivery: Delivery) -> None:
        raw = message.body.encode()
        headers = {
            "Content-Type": "application/json",
            "X-KCS-Delivery": delivery.key,
            "X-KCS-Timestamp": str(delivery.timestamp),
        }
        auth = None
        mode = self.config.get("auth", "none")
        if mode == "hmac":
            algorithm = self.config.get("hmac_algorithm") or "sha256"
            header = self.config.get("signature_header") or SIGNATURE_HEADER
            headers[header] = signature(self.secrets.get("hmac_secret", ""), delivery.timestamp, raw, algorithm)
        elif mode == "basic":
            auth = (self.config.get("username", ""), self.secrets.get("password", ""))
        elif mode == "token":
            headers[self.config.get("header_name") or "Authorization"] = self.secrets.get("token", "")
        url = full_url(self.config["url"], self.secrets)
        response = http.request("POST", url, data=raw, headers=headers, auth=auth)
        http.check_response(response, f"Webhook {self.destination()}")
