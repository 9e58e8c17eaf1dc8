"""The channel base class: what every output kind (email, Telegram, webhook…) provides.

A channel renders a message from its kind's templates and sends it. It never records anything: bookkeeping
(status, attempts, errors, retries) lives in :mod:`notifications.delivery`, in one place. Failures are reported by
raising :class:`TransportError`, which says whether retrying can help.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from django.template.loader import render_to_string

from notifications import templating
from notifications.secrets import SecretsUnreadable, decrypt
from notifications.templating import TemplateFailed, TemplateSlot

if TYPE_CHECKING:
    from notifications.forms import IntegrationForm
    from notifications.messages import MessageContext
    from notifications.models import NotificationIntegration

_BLANK_RUNS = re.compile(r"\n[ \t]*\n(?:[ \t]*\n)+")


class TransportError(Exception):
    """A delivery failed. ``permanent``: retrying cannot help (4xx, bad credentials, unknown chat, refused
    destination); otherwise it may (timeouts, connection errors, 5xx, 429). ``retry_after``: seconds the receiver
    asked us to wait, when it said so."""

    def __init__(self, message: str, permanent: bool = False, retry_after: float | None = None):
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.retry_after = retry_after

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class Message:
    """A rendered message. ``body`` is what goes out (text, HTML, a JSON document or CEF lines) and is what the
    delivery log keeps; ``html`` is the HTML alternative of an email."""

    subject: str
    body: str
    html: str = ""


@dataclass(frozen=True)
class Delivery:
    """Facts of one delivery the receiver may use: the idempotency key and the send time (Unix seconds)."""

    key: str
    timestamp: int


class Channel:
    """One output kind. Subclasses set the class attributes and implement :meth:`render` and :meth:`send`."""

    kind: ClassVar[str]
    label: ClassVar[str]
    description: ClassVar[str]
    form_class: ClassVar[type[IntegrationForm]]
    # How many events a human-readable message lists before "and N more".
    list_limit: ClassVar[int] = 20
    # Screens pass channel classes to templates, which would otherwise call (instantiate) them.
    do_not_call_in_templates: ClassVar[bool] = True
    # A SIEM output: it may stream the security event log and the security events (notifications.siem), as its
    # ``streams_security_log`` and ``streams_security_events`` say, and renders contexts of those streams.
    streams: ClassVar[bool] = False
    # The editable parts of this kind's messages (see notifications.templating); each becomes a setting of the
    # kind's form, empty meaning the default template file.
    templates: ClassVar[tuple[TemplateSlot, ...]] = ()

    def __init__(self, integration: NotificationIntegration):
        self.integration = integration
        self.config: dict[str, Any] = integration.config or {}
        self._secrets: dict[str, str] | None = None

    @property
    def secrets(self) -> dict[str, str]:
        """The decrypted secrets; a key that no longer fits is a permanent failure that a person must fix."""
        if self._secrets is None:
            try:
                self._secrets = decrypt(self.integration.secrets_encrypted)
            except SecretsUnreadable as exc:
                raise TransportError(str(exc), permanent=True) from None
        return self._secrets

    @property
    def rate_limit(self) -> float | None:
        """Most messages per second this output accepts (None: no limit)."""
        return None

    @property
    def streams_security_log(self) -> bool:
        """Whether this output receives every security event log entry (SIEM outputs that are asked to)."""
        return False

    @property
    def streams_security_events(self) -> bool:
        """Whether this output receives every stored security event (SIEM outputs that are asked to)."""
        return False

    def destination(self) -> str:
        """Where messages go, for lists and logs. Never includes a secret."""
        raise NotImplementedError

    def render(self, context: MessageContext) -> Message:
        """The message for ``context``, from this kind's templates."""
        raise NotImplementedError

    def send(self, message: Message, delivery: Delivery) -> None:
        """Deliver ``message``; returns on success, raises :class:`TransportError` otherwise."""
        raise NotImplementedError

    def render_template(self, name: str, context: dict[str, Any]) -> str:
        """The part whose default is ``templates/messages/<kind>/<name>``: the integration's own template for it when
        it has one (rendered in the sandbox), else the default; without the blank-line runs template tags leave.
        A custom template that fails on this message is a permanent failure a person must fix."""
        slot = next((slot for slot in self.templates if slot.file == name), None)
        source = self.config.get(slot.key) if slot is not None else None
        if source:
            try:
                text = templating.render(source, slot.format, context)
            except TemplateFailed as exc:
                raise TransportError(
                    f"The {slot.label.lower()} template fails: {exc.message}", permanent=True
                ) from None
        else:
            text = render_to_string(f"messages/{self.kind}/{name}", context)
        return _BLANK_RUNS.sub("\n\n", text).strip()

    # --- editable templates -----------------------------------------------------------------------------------------
    def template_data(self, slot: TemplateSlot, context: MessageContext) -> dict[str, Any]:
        """What ``slot``'s template sees for ``context`` (plain data; see :meth:`template_variables`)."""
        return context.as_dict(self.list_limit)

    @classmethod
    def template_variables(cls, slot: TemplateSlot) -> dict[str, str]:
        """The documented names ``slot``'s template may read, with what each holds."""
        return templating.TEMPLATE_VARIABLES

    @classmethod
    def default_template(cls, slot: TemplateSlot) -> str:
        """The source of ``slot``'s default template."""
        from django.template.loader import get_template

        return get_template(f"messages/{cls.kind}/{slot.file}").template.source.strip()
