"""Channel classes, one per output kind, and the dict that maps a kind to its class."""

from __future__ import annotations

from notifications.channels.base import Channel, Delivery, Message, TransportError
from notifications.channels.email import EmailChannel
from notifications.channels.slack import SlackChannel
from notifications.channels.syslog import SyslogChannel
from notifications.channels.teams import TeamsChannel
from notifications.channels.telegram import TelegramChannel
from notifications.channels.webhook import WebhookChannel

CHANNELS: dict[str, type[Channel]] = {
    channel.kind: channel
    for channel in (EmailChannel, TelegramChannel, WebhookChannel, SlackChannel, TeamsChannel, SyslogChannel)
}


def channel_for(integration) -> Channel:
    """The channel that delivers through ``integration``."""
    return CHANNELS[integration.kind](integration)


__all__ = ["CHANNELS", "Channel", "Delivery", "Message", "TransportError", "channel_for"]
