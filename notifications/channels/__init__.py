"""Channel classes, one per output kind, and their registry (how to add a kind: :mod:`.registry`)."""

from __future__ import annotations

from notifications.channels.base import Channel, Delivery, Message, TransportError
from notifications.channels.email import EmailChannel
from notifications.channels.registry import CHANNELS, channel_for, kind_choices, kind_label, register, unregister
from notifications.channels.slack import SlackChannel
from notifications.channels.syslog import SyslogChannel
from notifications.channels.teams import TeamsChannel
from notifications.channels.telegram import TelegramChannel
from notifications.channels.webhook import WebhookChannel

# The kinds that ship with the product, in the order the screens list them.
BUILT_IN: tuple[type[Channel], ...] = (
    EmailChannel,
    TelegramChannel,
    WebhookChannel,
    SlackChannel,
    TeamsChannel,
    SyslogChannel,
)
for _channel in BUILT_IN:
    register(_channel)
del _channel

__all__ = [
    "BUILT_IN",
    "CHANNELS",
    "Channel",
    "Delivery",
    "Message",
    "TransportError",
    "channel_for",
    "kind_choices",
    "kind_label",
    "register",
    "unregister",
]
