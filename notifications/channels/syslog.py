"""Syslog to a SIEM: one CEF line per event (RFC 5424 framing), over UDP or TCP (newline-terminated).

SIEMs correlate per finding, so every event of a notification becomes its own CEF record; they all go out in one
delivery, and the delivery log keeps the lines that were sent.
"""

from __future__ import annotations

import socket
from typing import Any

from django import forms
from django.utils import timezone

from notifications.channels.base import Channel, Delivery, Message, TransportError
from notifications.channels.http import connect, resolve_destination
from notifications.forms import IntegrationForm, clean_host
from notifications.messages import MessageContext

TIMEOUT = 5.0


class SyslogForm(IntegrationForm):
    host = forms.CharField(label="Host", max_length=255, help_text="The SIEM's syslog collector.")
    port = forms.IntegerField(label="Port", min_value=1, max_value=65535, initial=514)
    protocol = forms.ChoiceField(label="Protocol", initial="udp", choices=[("udp", "UDP"), ("tcp", "TCP")])

    config_fields = ("host", "port", "protocol")

    def clean_host(self) -> str:
        return clean_host(self.cleaned_data["host"])


class SyslogChannel(Channel):
    kind = "syslog"
    label = "Syslog (CEF)"
    description = "CEF records to a SIEM over syslog (UDP or TCP)."
    form_class = SyslogForm

    def destination(self) -> str:
        return f"{self.config.get('protocol', 'udp')}://{self.config.get('host', '')}:{self.config.get('port', 514)}"

    def render(self, context: MessageContext) -> Message:
        data: dict[str, Any] = context.as_dict(len(context.events))
        data.update(timestamp=timezone.now().isoformat(timespec="milliseconds"), hostname=socket.gethostname())
        lines = [self.render_template("event.cef", {**data, "event": line}) for line in data["events"]]
        # One record per event: the filters escape line breaks inside values, and whatever else a template line
        # holds (every boundary str.splitlines knows) is flattened, so a record never spans two lines.
        return Message(subject="", body="\n".join(" ".join(line.splitlines()) for line in lines))

    def send(self, message: Message, delivery: Delivery) -> None:
        host, port = self.config["host"], int(self.config["port"])
        tcp = self.config.get("protocol") == "tcp"
        # The addresses the guard checked are the ones used: the name is not looked up again.
        addresses = resolve_destination(host, port, socket.SOCK_STREAM if tcp else socket.SOCK_DGRAM)
        # Records are separated by "\n" only (render() put them so); splitting on every Unicode line boundary
        # would let a separator inside a record forge another one.
        frames = [line.encode() for line in message.body.split("\n") if line]
        try:
            if tcp:
                with connect(addresses, TIMEOUT) as sock:
                    sock.sendall(b"".join(frame + b"\n" for frame in frames))
            else:
                family, kind, proto, address = addresses[0]
                with socket.socket(family, kind, proto) as sock:
                    sock.settimeout(TIMEOUT)
                    for frame in frames:
                        sock.sendto(frame, address)
        except OSError as exc:
            raise TransportError(f"Syslog to {host}:{port} failed: {exc.__class__.__name__}: {exc}") from None
