"""Telegram: ``sendMessage`` of the Bot API, HTML formatted, within Telegram's 4,096-character limit.

The API base URL is configurable (default the public one) so proxies and tests can point elsewhere.
"""

from __future__ import annotations

from typing import Any

from django import forms

from notifications.channels import http
from notifications.channels.base import Channel, Delivery, Message, TransportError
from notifications.forms import IntegrationForm, secret_field, url_destination
from notifications.messages import MessageContext
from notifications.templating import TemplateSlot

DEFAULT_API_BASE_URL = "https://api.telegram.org"
MAX_LENGTH = 4096
# Fewer and fewer events are listed until the message fits.
LIST_STEPS = (20, 10, 5, 3, 1, 0)


class TelegramForm(IntegrationForm):
    bot_token = secret_field("Bot token", "From @BotFather, e.g. 123456789:AAE…")
    chat_id = forms.RegexField(
        label="Chat ID",
        max_length=100,
        regex=r"^(-?\d+|@[A-Za-z][A-Za-z0-9_]{3,})$",
        error_messages={"invalid": "Enter a numeric chat ID (e.g. -1001234567890) or a @channel name."},
    )
    thread_id = forms.IntegerField(
        label="Message thread ID", required=False, min_value=1, help_text="Optional: a topic of a forum supergroup."
    )
    api_base_url = forms.URLField(
        label="Bot API base URL",
        required=False,
        initial=DEFAULT_API_BASE_URL,
        assume_scheme="https",
        help_text="Change only for a Bot API proxy or server.",
    )

    config_fields = ("chat_id", "thread_id", "api_base_url")
    secret_fields = ("bot_token",)
    destination_label = "The Bot API server"

    @classmethod
    def destination(cls, config: dict[str, Any]) -> Any:
        return url_destination(config.get("api_base_url") or DEFAULT_API_BASE_URL)

    def clean_bot_token(self) -> str:
        token = self.cleaned_data["bot_token"]
        if token and (":" not in token or not token.split(":", 1)[0].isdigit()):
            raise forms.ValidationError("A bot token looks like 123456789:AAE… (digits, a colon, then letters).")
        return token

    def clean_api_base_url(self) -> str:
        return (self.cleaned_data["api_base_url"] or DEFAULT_API_BASE_URL).rstrip("/")


class TelegramChannel(Channel):
    kind = "telegram"
    label = "Telegram"
    description = "Messages from a bot to a chat, group, topic or channel."
    form_class = TelegramForm
    templates = (TemplateSlot("message_template", "message.html", "Message", "html"),)

    def destination(self) -> str:
        return f"chat {self.config.get('chat_id', '')}"

    def render(self, context: MessageContext) -> Message:
        for limit in LIST_STEPS:
            text = self.render_template("message.html", context.as_dict(limit))
            if len(text) <= MAX_LENGTH:
                break
        else:  # only the header left and still too long: cut (titles are already truncated by the template)
            text = text[:MAX_LENGTH]
        return Message(subject="", body=text)

    def send(self, message: Message, delivery: Delivery) -> None:
        base = self.config.get("api_base_url") or DEFAULT_API_BASE_URL
        payload: dict[str, Any] = {
            "chat_id": self.config["chat_id"],
            "text": message.body,
            "parse_mode": "HTML",
            "link_preview_options": {"is_disabled": True},
        }
        if self.config.get("thread_id"):
            payload["message_thread_id"] = int(self.config["thread_id"])
        response = http.request("POST", f"{base}/bot{self.secrets.get('bot_token', '')}/sendMessage", json=payload)
        if response.status_code == 200:
            return
        try:
            answer = response.json()
        except ValueError:
            answer = {}
        description = str(answer.get("description") or "").strip() or None
        if response.status_code == 429:
            wait = (answer.get("parameters") or {}).get("retry_after")
            raise TransportError(
                f"Telegram: {description or 'too many requests'}",
                retry_after=float(wait) if wait else http.retry_after(response),
            )
        if response.status_code == 401:
            raise TransportError("Telegram refused the bot token (401 Unauthorized).", permanent=True)
        http.check_response(response, "Telegram", detail=description)
