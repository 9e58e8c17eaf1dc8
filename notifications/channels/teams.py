"""Microsoft Teams: an Adaptive Card posted to a Teams workflow ("incoming webhook") URL, which is a secret."""

from __future__ import annotations

from notifications.channels import http
from notifications.channels.base import Channel, Delivery, Message
from notifications.channels.slack import IncomingWebhookForm
from notifications.messages import MessageContext
from notifications.templating import TemplateSlot

CARD_SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"


class TeamsChannel(Channel):
    kind = "teams"
    label = "Microsoft Teams"
    description = "Adaptive Cards to a Teams channel through a workflow webhook."
    form_class = IncomingWebhookForm
    templates = (
        TemplateSlot("title_template", "title.txt", "Title", "teams"),
        TemplateSlot("body_template", "body.md", "Card text", "teams"),
    )

    def destination(self) -> str:
        return "workflow webhook"

    def render(self, context: MessageContext) -> Message:
        data = context.as_dict(self.list_limit)
        return Message(subject=self.render_template("title.txt", data), body=self.render_template("body.md", data))

    def send(self, message: Message, delivery: Delivery) -> None:
        card = {
            "$schema": CARD_SCHEMA,
            "type": "AdaptiveCard",
            "version": "1.4",
            "body": [
                {"type": "TextBlock", "text": message.subject, "weight": "Bolder", "size": "Medium", "wrap": True},
                {"type": "TextBlock", "text": message.body, "wrap": True},
            ],
        }
        payload = {
            "type": "message",
            "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive", "content": card}],
        }
        response = http.request(
            "POST", self.secrets.get("webhook_url", ""), json=payload, headers={"X-KCS-Delivery": delivery.key}
        )
        http.check_response(response, "Microsoft Teams")
