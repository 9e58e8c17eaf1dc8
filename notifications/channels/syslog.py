"""SIEM over syslog: CEF records over UDP, TCP or TLS (RFC 5424 or RFC 3164 headers; see :mod:`.syslog_transport`).

Two kinds of traffic go through a SIEM output:

- as a response policy's notification method: one CEF record per event of the notification (SIEMs correlate per
  finding), all sent in one delivery;
- as a stream (:mod:`notifications.siem`), whatever the policies say: every entry of the security event log
  ("Send the security event log") and, when asked ("Send every security event"), every stored security event.

Either way the rows go through the delivery outbox (claim, render, send, record, retries, sweeper), and the
delivery log keeps the lines that were sent.
"""

from __future__ import annotations

import ssl
from typing import Any

from django import forms

from notifications.audit_records import event_signature, record_fields, syslog_severity
from notifications.channels.base import Channel, Delivery, Message, TransportError
from notifications.channels.syslog_transport import (
    FORMATS,
    PROTOCOLS,
    TCP_FRAMINGS,
    header,
    hostname,
    send_records,
    tls_context,
)
from notifications.forms import IntegrationForm, clean_host
from notifications.messages import MessageContext
from notifications.templatetags.message_format import syslog_pri

SYSLOG_FACILITY_LOCAL0 = 16
MAX_CA_CERTIFICATE = 65536
# For an API client that leaves them out when creating an output (a stored output always has every key).
DEFAULTS = {
    "format": "rfc5424",
    "tcp_framing": "newline",
    "tls_verify": True,
    "ca_certificate": "",
    "security_log": True,
    "security_events": False,
}


class SyslogForm(IntegrationForm):
    host = forms.CharField(label="Host", max_length=255, help_text="The SIEM's syslog collector.")
    port = forms.IntegerField(
        label="Port", min_value=1, max_value=65535, initial=514, help_text="Usually 514 (UDP, TCP) or 6514 (TLS)."
    )
    protocol = forms.ChoiceField(label="Protocol", initial="udp", choices=PROTOCOLS)
    format = forms.ChoiceField(label="Syslog header", initial="rfc5424", choices=FORMATS)
    tcp_framing = forms.ChoiceField(
        label="TCP framing", initial="newline", choices=TCP_FRAMINGS, help_text="TCP and TLS only."
    )
    tls_verify = forms.BooleanField(
        label="Verify the collector's certificate",
        required=False,
        initial=True,
        help_text="TLS only: against the CA certificate below, else the system's CAs; and the host name.",
    )
    ca_certificate = forms.CharField(
        label="CA certificate (PEM)",
        required=False,
        max_length=MAX_CA_CERTIFICATE,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="TLS only: the CA that signed the collector's certificate, when it is a private one.",
    )
    security_log = forms.BooleanField(
        label="Send the security event log",
        required=False,
        initial=True,
        help_text="Every entry of the security event log (changes, risk acceptances, policy alerts) as a CEF record.",
    )
    security_events = forms.BooleanField(
        label="Send every security event",
        required=False,
        initial=False,
        help_text="Every stored security event as a CEF record, whatever the response policies say.",
    )

    config_fields = (
        "host",
        "port",
        "protocol",
        "format",
        "tcp_framing",
        "tls_verify",
        "ca_certificate",
        "security_log",
        "security_events",
    )

    @classmethod
    def data_from_config(cls, config: dict[str, Any]) -> dict[str, Any]:
        return super().data_from_config({**DEFAULTS, **config})

    def clean_host(self) -> str:
        return clean_host(self.cleaned_data["host"])

    def clean_ca_certificate(self) -> str:
        pem = self.cleaned_data["ca_certificate"].strip()
        if pem:
            if "-----BEGIN CERTIFICATE-----" not in pem:
                raise forms.ValidationError("Paste the CA certificate in PEM form (-----BEGIN CERTIFICATE-----…).")
            try:
                tls_context(True, pem)
            except (ssl.SSLError, ValueError):
                raise forms.ValidationError("This is not a readable PEM certificate.") from None
        return pem


class SyslogChannel(Channel):
    kind = "syslog"
    label = "SIEM (syslog CEF)"
    description = "CEF records to a SIEM over syslog (UDP, TCP or TLS): policy alerts, the security event log, events."
    form_class = SyslogForm
    streams = True

    def destination(self) -> str:
        return f"{self.config.get('protocol', 'udp')}://{self.config.get('host', '')}:{self.config.get('port', 514)}"

    @property
    def streams_security_log(self) -> bool:
        return bool(self.config.get("security_log"))

    @property
    def streams_security_events(self) -> bool:
        return bool(self.config.get("security_events"))

    def _line(self, pri: int, msgid: str, cef: str, host: str) -> str:
        # Whatever a template line holds (every boundary str.splitlines knows) is flattened, so a record never spans
        # two lines; the filters already escaped line breaks inside values.
        return header(self.config.get("format", "rfc5424"), pri, msgid, host=host) + " ".join(cef.splitlines())

    def render(self, context: MessageContext) -> Message:
        host = hostname()
        if context.stream == "audit":
            if context.audit_entry is None:
                raise TransportError("The security event log entry was deleted before it was sent.", permanent=True)
            fields = record_fields(context.audit_entry, context.alert_facts)
            cef = self.render_template("audit.cef", fields)
            pri = SYSLOG_FACILITY_LOCAL0 * 8 + syslog_severity(fields["severity"])
            return Message(subject=fields["signature"], body=self._line(pri, fields["signature"], cef, host))
        data: dict[str, Any] = context.as_dict(len(context.events))
        # A streamed event was not sent because of a policy: it names none.
        data["act"] = "notify"
        if context.stream == "events":
            data.update(act="stream", policy_name="")
        lines = []
        for event in data["events"]:  # plain data (EventLine.as_template_dict)
            signature = event_signature(event["type"], event["finding_id"])
            cef = self.render_template("event.cef", {**data, "event": event, "signature": signature})
            lines.append(self._line(syslog_pri(event["severity_value"]), "", cef, host))
        return Message(subject="", body="\n".join(lines))

    def send(self, message: Message, delivery: Delivery) -> None:
        protocol = self.config.get("protocol", "udp")
        tls = None
        if protocol == "tls":
            tls = tls_context(self.config.get("tls_verify", True), self.config.get("ca_certificate") or "")
        # Records are separated by "\n" only (render() put them so); splitting on every Unicode line boundary
        # would let a separator inside a record forge another one.
        send_records(
            [line.encode() for line in message.body.split("\n") if line],
            host=self.config["host"],
            port=int(self.config["port"]),
            protocol=protocol,
            framing=self.config.get("tcp_framing", "newline"),
            tls=tls,
        )
