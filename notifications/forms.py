"""Forms of notification integrations: the base class every kind's form extends, and the delivery-log filter.

A kind's form is the single place its settings are validated: the screens use it directly and the API feeds it
the JSON ``config``/``secrets`` (see :meth:`IntegrationForm.data_from_config`), so both refuse the same input with
the same messages. Secret fields are write-only: left blank, the stored value is kept — unless the change sends the
secrets somewhere else (:meth:`IntegrationForm.destination`), when each must be entered again.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any, ClassVar
from urllib.parse import urlsplit

from django import forms
from django.core.validators import validate_email

from kcs.filters import BoundedIsoDateTimeField
from notifications.models import NotificationIntegration, NotificationStatus, NotificationStream
from notifications.secrets import UNREADABLE

KEEP_SECRET_HELP = "Stored. Leave blank to keep it."
_HOST_NAME = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$"
)


def clean_host(value: str) -> str:
    """A host name or an IP address (brackets around IPv6 removed); ``ValidationError`` otherwise."""
    host = (value or "").strip().strip("[]")
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    if not _HOST_NAME.match(host):
        raise forms.ValidationError("Enter a host name or an IP address, without a scheme or port.")
    return host


def url_destination(url: str | None) -> tuple[str, str, int | None] | None:
    """``(scheme, host, port)`` of a URL, lower-cased, the scheme's default port filled in; None without a host.
    What an integration's URL-borne secrets must not leave (see :meth:`IntegrationForm.destination`)."""
    try:
        parts = urlsplit(url or "")
        host, port = parts.hostname, parts.port
    except ValueError:
        return None
    if not host:
        return None
    scheme = parts.scheme.lower()
    return scheme, host, port or {"http": 80, "https": 443}.get(scheme)


class MultiEmailField(forms.Field):
    """One or more addresses: a list (API) or text separated by commas or new lines (screens)."""

    widget = forms.Textarea(attrs={"rows": 3})
    max_items = 50

    def to_python(self, value) -> list[str]:
        if not value:
            return []
        if isinstance(value, str):
            value = re.split(r"[\s,;]+", value)
        if not isinstance(value, (list, tuple)):
            raise forms.ValidationError("Enter a list of email addresses.")
        return [str(item).strip() for item in value if str(item).strip()]

    def validate(self, value: list[str]) -> None:
        super().validate(value)
        if len(value) > self.max_items:
            raise forms.ValidationError(f"At most {self.max_items} recipients.")
        bad = []
        for address in value:
            try:
                validate_email(address)
            except forms.ValidationError:
                bad.append(address)
        if bad:
            raise forms.ValidationError("Not valid email addresses: %(bad)s", params={"bad": ", ".join(bad)})

    def prepare_value(self, value):
        return "\n".join(value) if isinstance(value, (list, tuple)) else value


def secret_field(label: str, help_text: str = "") -> forms.CharField:
    return forms.CharField(
        label=label,
        required=False,
        help_text=help_text,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )


class IntegrationForm(forms.Form):
    """Name, enabled and a kind's settings. Subclasses declare ``config_fields`` and ``secret_fields``."""

    name = forms.CharField(max_length=100)
    enabled = forms.BooleanField(required=False, initial=True, help_text="Disabled outputs send nothing.")

    config_fields: ClassVar[tuple[str, ...]] = ()
    secret_fields: ClassVar[tuple[str, ...]] = ()
    # Secrets a kind takes out of a setting rather than from a field of their own (the credentials inside a webhook
    # URL); the form puts them in its cleaned data, and required_secrets() names them when the settings need them.
    derived_secrets: ClassVar[tuple[str, ...]] = ()
    # What people call where the secrets go, in "… changed, so the stored … is not sent there".
    destination_label: ClassVar[str] = "The destination"
    # Set by with_templates(): the channel whose message templates the form edits, and their slots.
    channel_class: ClassVar[Any] = None
    template_slots: ClassVar[tuple[Any, ...]] = ()
    # Settings stored only when set (a message template left at its default is not stored at all).
    optional_config: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self,
        data=None,
        *,
        instance: NotificationIntegration | None = None,
        stored_secrets=(),
        secrets_unreadable: bool = False,
        **kwargs,
    ):
        self.instance = instance
        self.stored_secrets = set(stored_secrets)
        # The stored secrets exist but no key can read them: each needed one is asked for again, saying why.
        self.secrets_unreadable = secrets_unreadable
        self.secrets_unreadable_message = UNREADABLE
        # Whether the secrets stored so far may be kept (False once an edit sends them to another destination).
        self.keeps_stored_secrets = True
        if instance is not None and data is None and "initial" not in kwargs:
            kwargs["initial"] = {
                "name": instance.name,
                "enabled": instance.enabled,
                **self.data_from_config(instance.config),
            }
        super().__init__(data, **kwargs)
        for slot in self.template_slots:
            self.fields[slot.key].widget.attrs["placeholder"] = self.channel_class.default_template(slot)
        for name in self.secret_fields:
            if name in self.stored_secrets:
                field = self.fields[name]
                field.help_text = f"{field.help_text} {KEEP_SECRET_HELP}".strip()

    # --- conversions between the stored/API shape and form data -----------------------------------------------
    @classmethod
    def config_keys(cls) -> tuple[str, ...]:
        """The keys of the stored (and API) ``config``."""
        return cls.config_fields

    @classmethod
    def data_from_config(cls, config: dict[str, Any]) -> dict[str, Any]:
        """Form data for a stored (or API) ``config``."""
        return {name: config[name] for name in cls.config_fields if name in config}

    def to_config(self) -> dict[str, Any]:
        """The ``config`` to store, from the cleaned data."""
        return {
            name: self.cleaned_data.get(name)
            for name in self.config_fields
            if name not in self.optional_config or self.cleaned_data.get(name)
        }

    def template_help(self) -> list[dict[str, Any]]:
        """For the form: each editable part with its format and the variables its template may use."""
        return [
            {"slot": slot, "field": self[slot.key], "variables": self.channel_class.template_variables(slot)}
            for slot in self.template_slots
        ]

    @classmethod
    def error_path(cls, field: str) -> tuple[str, ...]:
        """Where an error on ``field`` is reported in the API's ``errors`` object."""
        if field in ("name", "enabled", "__all__"):
            return ("non_field_errors",) if field == "__all__" else (field,)
        if field in cls.secret_fields:
            return ("secrets", field)
        return ("config", field)

    # --- secrets ------------------------------------------------------------------------------------------------
    @classmethod
    def destination(cls, config: dict[str, Any]) -> Any:
        """Where this kind's secrets are sent, as a comparable value (None: nowhere of the settings' choosing).

        When an edit changes it, no stored secret is kept: each one the settings need must come with the change,
        so a token or password never follows its integration to a new host (or to plain HTTP)."""
        return None

    def destination_changed(self) -> bool:
        """Whether the cleaned settings send the secrets somewhere other than the stored ones did."""
        if self.instance is None:
            return False
        before = self.destination(self.instance.config or {})
        after = self.destination(self.to_config())
        return before is not None and after is not None and before != after

    def required_secrets(self, cleaned: dict[str, Any]) -> set[str]:
        """The secrets these settings need (all of ``secret_fields`` unless a kind says otherwise)."""
        return set(self.secret_fields)

    def to_secrets(self, stored: dict[str, str]) -> dict[str, str]:
        """The secrets to store: new values over stored ones, only those the settings still need (and none of the
        stored ones when the destination changed)."""
        needed = self.required_secrets(self.cleaned_data)
        kept = stored if self.keeps_stored_secrets else {}
        merged = {name: value for name, value in kept.items() if name in needed}
        for name in needed:
            if self.cleaned_data.get(name):
                merged[name] = self.cleaned_data[name]
        return merged

    # --- validation ---------------------------------------------------------------------------------------------
    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        others = NotificationIntegration.objects.filter(name__iexact=name)
        if self.instance is not None:
            others = others.exclude(pk=self.instance.pk)
        if others.exists():
            raise forms.ValidationError("An integration with this name already exists.")
        return name

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        self.keeps_stored_secrets = not self.destination_changed()
        for name in sorted(self.required_secrets(cleaned) & set(self.secret_fields)):
            if cleaned.get(name) or name in self.errors:
                continue
            if name not in self.stored_secrets:
                self.add_error(name, UNREADABLE if self.secrets_unreadable else "This field is required.")
            elif not self.keeps_stored_secrets:
                label = self.fields[name].label
                label = label if label[:2].isupper() else label[:1].lower() + label[1:]
                self.add_error(
                    name,
                    f"{self.destination_label} changed, so the stored {label} is not sent there: enter it again.",
                )
        return cleaned


def editable_messages(channel_class):
    """Class decorator of a channel with ``templates``: its ``form_class`` gets a setting for each editable part
    (:func:`with_templates`)."""
    channel_class.form_class = with_templates(channel_class.form_class, channel_class)
    return channel_class


def check_template(channel_class, slot, source: str) -> None:
    """Raise ``TemplateFailed`` unless ``source`` is a usable template for ``slot`` of ``channel_class``: it compiles,
    reads only documented names and renders a test message and a sample notification."""
    from notifications.messages import MessageContext
    from notifications.templating import check

    channel = channel_class(NotificationIntegration(name="Sample output", kind=channel_class.kind, config={}))
    integration = channel.integration
    samples = [
        channel.template_data(slot, context)
        for context in (MessageContext.preview(integration), MessageContext.sample(integration, "test"))
    ]
    check(source, slot.format, list(channel_class.template_variables(slot)), samples)


def with_templates(form_class: type[IntegrationForm], channel_class) -> type[IntegrationForm]:
    """``form_class`` with a setting for each editable message part of ``channel_class`` (its ``templates``), each
    checked by :func:`check_template`: the screens, the API and the admin refuse a template that fails, with its
    line, under the setting's name."""
    from notifications.templating import MAX_LENGTH, TemplateFailed

    attrs: dict[str, Any] = {"channel_class": channel_class, "template_slots": channel_class.templates}
    for slot in channel_class.templates:
        attrs[slot.key] = forms.CharField(
            label=f"{slot.label} template",
            required=False,
            max_length=MAX_LENGTH,
            strip=False,
            widget=forms.Textarea(attrs={"rows": 8, "class": "code", "spellcheck": "false"}),
            help_text="Leave empty for the default (shown greyed).",
        )

        def clean(form, slot=slot) -> str:
            source = (form.cleaned_data.get(slot.key) or "").replace("\r\n", "\n").strip()
            if source:
                try:
                    check_template(channel_class, slot, source)
                except TemplateFailed as exc:
                    raise forms.ValidationError(exc.message) from None
            return source

        attrs[f"clean_{slot.key}"] = clean
    keys = [slot.key for slot in channel_class.templates if slot.key not in form_class.config_fields]
    attrs["config_fields"] = (*form_class.config_fields, *keys)
    attrs["optional_config"] = (*form_class.optional_config, *keys)
    return type(form_class.__name__, (form_class,), attrs)


class BoundedDateTimeField(BoundedIsoDateTimeField):
    """An ISO 8601 date-time (``2026-12-03T10:00:00Z``, as the Overview's links give) within the product's years."""

    widget = forms.DateTimeInput


# What the delivery log shows: response policies' messages unless asked (SIEM streams make a row per log entry and
# per ingested batch, which would bury the policies' messages).
SHOW_CHOICES = [("", "Response policy notifications"), ("siem", "SIEM streams"), ("all", "Everything")]


class NotificationFilterForm(forms.Form):
    """Filters of the delivery log; invalid values are ignored rather than refused (it is a GET form)."""

    show = forms.ChoiceField(required=False, choices=SHOW_CHOICES)
    status = forms.ChoiceField(required=False, choices=[("", "Any status"), *NotificationStatus.choices])
    policy = forms.TypedChoiceField(required=False, coerce=int, empty_value=None)
    integration = forms.TypedChoiceField(required=False, coerce=int, empty_value=None)
    created_after = BoundedDateTimeField(required=False, label="Created from")
    created_before = BoundedDateTimeField(required=False, label="Created before")

    def __init__(self, *args, policies=(), integrations=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["policy"].choices = [("", "Any policy"), *[(p.pk, p.name) for p in policies]]
        self.fields["integration"].choices = [("", "Any integration"), *[(i.pk, i.name) for i in integrations]]

    def filters(self) -> dict[str, Any]:
        if not self.is_valid():
            return {"stream": NotificationStream.POLICY}
        data = self.cleaned_data
        chosen = {
            "status": data.get("status"),
            "policy_id": data.get("policy"),
            "integration_id": data.get("integration"),
            "created_at__gte": data.get("created_after"),
            "created_at__lt": data.get("created_before"),
        }
        filters = {key: value for key, value in chosen.items() if value not in (None, "")}
        if data.get("show") == "siem":
            filters["stream__in"] = [NotificationStream.AUDIT, NotificationStream.EVENTS]
        elif data.get("show") != "all":
            filters["stream"] = NotificationStream.POLICY
        return filters
