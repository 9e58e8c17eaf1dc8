"""Slack incoming webhooks: one mrkdwn message per notification. The webhook URL is a secret."""

from __future__ import annotations

from django import forms
from django.core.validators import URLValidator

from notifications.channels import http
from notifications.channels.base import Channel, Delivery, Message
from notifications.forms import IntegrationForm, secret_field
from notifications.messages import MessageContext
from notifications.templating import TemplateSlot


class IncomingWebhookForm(IntegrationForm):
    """An incoming-webhook URL (a secret: whoever has it can post)."""

    webhook_url = secret_field("Webhook URL", "The incoming webhook URL; it is a credential, so it is not shown.")
    secret_fields = ("webhook_url",)

    def clean_webhook_url(self) -> str:
        url = self.cleaned_data["webhook_url"]
        if url:
            try:
                URLValidator(schemes=["http", "https"])(url)
            except forms.ValidationError:
                raise forms.ValidationError("Enter a valid http:// or https:// URL.") from None
        return url


class SlackChannel(Channel):
    kind = "slack"
    label = "Slack"
    description = "Messages to a Slack channel through an incoming webhook."
    form_class = IncomingWebhookForm
    templates = (TemplateSlot("message_template", "message.txt", "Message", "slack"),)

    def destination(self) -> str:
        return "incoming webhook"

    def render(self, context: MessageContext) -> Message:
        return Message(subject="", body=self.render_template("message.txt", context.as_dict(self.list_limit)))

    def send(self, message: Message, delivery: Delivery) -> None:
        response = http.request("POST", self.secrets.get("webhook_url", ""), json={"text": message.body})
        http.check_response(response, "Slack")
