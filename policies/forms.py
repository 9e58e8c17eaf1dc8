"""Forms of the policy and scope screens: they parse input; the rules live in :mod:`policies.validation`.

The policy form owns a formset of notification method rows (output type, then an integration of that type). It
works without JavaScript: empty extra rows take new outputs and a "Remove" box drops a row; ``static/js/
policy_form.js`` turns those into Add/Remove buttons and filters the integration list by the chosen type.
"""

from __future__ import annotations

from django import forms

from events.models import Severity
from notifications.channels import kind_choices
from notifications.models import NotificationIntegration
from policies.models import DEFAULT_REPEAT_INTERVAL, TRIGGER_DEFAULT_SEVERITY, ResponsePolicy, Scope, Trigger
from policies.validation import MethodChoice, check_policy, check_scope, check_scopes_held

# Thresholds as people read them: "at least this severe".
THRESHOLD_CHOICES = (
    [("", "Trigger default")]
    + [
        (str(int(s)), s.label if s == Severity.CRITICAL else f"{s.label} and above")
        for s in sorted(Severity, reverse=True)
        if s != Severity.UNKNOWN
    ]
    + [(str(int(Severity.UNKNOWN)), "Any severity")]
)

REPEAT_CHOICES = [
    (0, "Notify every time"),
    (15 * 60, "15 minutes"),
    (60 * 60, "1 hour"),
    (DEFAULT_REPEAT_INTERVAL, "4 hours (default)"),
    (12 * 60 * 60, "12 hours"),
    (24 * 60 * 60, "1 day"),
    (7 * 24 * 60 * 60, "7 days"),
]


def add_errors(form: forms.BaseForm, errors: dict[str, list[str]]) -> None:
    """Put shared-rule messages (``{field: [message]}``) on ``form``; list-wide method messages go to its rows."""
    for field, messages in errors.items():
        for message in messages:
            if field == "notification_methods" and hasattr(form, "methods"):
                form.methods.add_non_form_error(message)
            else:
                form.add_error(field if field in form.fields else None, message)


def describe_interval(seconds: int) -> str:
    """A repeat interval in words, for values set through the API that the drop-down does not list."""
    if not seconds:
        return "no delay (notify every time)"
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds and seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds} seconds"


class IntegrationSelect(forms.Select):
    """A select whose options carry ``data-kind`` so the page script can filter them by output type."""

    def __init__(self, *args, kinds: dict[str, str] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.kinds = kinds or {}

    def create_option(self, name, value, label, selected, index, subindex=None, attrs=None):
        option = super().create_option(name, value, label, selected, index, subindex, attrs)
        kind = self.kinds.get(str(value))
        if kind:
            option["attrs"]["data-kind"] = kind
        return option


class MethodForm(forms.Form):
    """One notification method row. Both fields empty: an unused row, ignored."""

    kind = forms.ChoiceField(label="Output type", required=False)
    integration = forms.TypedChoiceField(label="Integration", required=False, coerce=int, empty_value=None)

    def __init__(self, *args, integrations: list[NotificationIntegration], **kwargs):
        super().__init__(*args, **kwargs)
        # The registry's kinds at the time of the request, not at import: a kind may be registered later.
        self.fields["kind"].choices = [("", "Output type…"), *kind_choices()]
        self.integrations = {integration.pk: integration for integration in integrations}
        groups: dict[str, list[tuple[int, str]]] = {}
        for integration in integrations:
            label = integration.name if integration.enabled else f"{integration.name} (disabled)"
            groups.setdefault(integration.kind_label, []).append((integration.pk, label))
        field = self.fields["integration"]
        field.choices = [("", "Integration…")] + list(groups.items())
        field.widget = IntegrationSelect(
            choices=field.choices,
            kinds={str(i.pk): i.kind for i in integrations},
            attrs={"class": "method-integration"},
        )
        self.fields["kind"].widget.attrs["class"] = "method-kind"

    def clean(self):
        cleaned = super().clean()
        kind, integration_id = cleaned.get("kind"), cleaned.get("integration")
        if integration_id is None:
            if kind:
                self.add_error("integration", "Choose an integration of this type, or clear the row.")
            cleaned["choice"] = None
        else:
            cleaned["choice"] = MethodChoice(self.integrations[integration_id], kind or None)
        return cleaned


class BaseMethodFormSet(forms.BaseFormSet):
    def __init__(self, *args, integrations: list[NotificationIntegration], **kwargs):
        kwargs["form_kwargs"] = {"integrations": integrations}
        super().__init__(*args, **kwargs)

    def add_fields(self, form, index):
        super().add_fields(form, index)
        if "DELETE" in form.fields:
            form.fields["DELETE"].label = "Remove"

    def used_rows(self) -> list[tuple[forms.Form, MethodChoice]]:
        """The filled rows still kept, in display order (call after ``is_valid()``)."""
        rows = []
        for form in self.forms:
            if self.can_delete and self._should_delete_form(form):
                continue
            choice = getattr(form, "cleaned_data", {}).get("choice")
            if choice is not None:
                rows.append((form, choice))
        return rows

    def add_non_form_error(self, message: str) -> None:
        self.non_form_errors().append(message)


MethodFormSet = forms.formset_factory(MethodForm, formset=BaseMethodFormSet, extra=1, can_delete=True)


class ScopeChoices(forms.ModelMultipleChoiceField):
    """The scopes offered (the person's, plus any the policy already has); a scope outside them is refused with the
    shared rule's words (:func:`policies.validation.check_scopes_held`), as the API refuses it."""

    def label_from_instance(self, obj: Scope) -> str:
        return f"{obj.name} (every resource)" if obj.is_global else obj.name

    def _check_values(self, value):
        try:
            return super()._check_values(value)
        except forms.ValidationError as exc:
            if exc.code != "invalid_choice":
                raise
            wanted = [int(item) for item in value if str(item).isascii() and str(item).isdigit()]
            refused = Scope.objects.filter(pk__in=wanted).exclude(pk__in=self.queryset.values("pk"))
            messages = check_scopes_held(refused, held_ids=())
            raise forms.ValidationError(messages or exc.messages, code="invalid_choice") from None


class PolicyForm(forms.ModelForm):
    """Name, description, status, scopes, trigger with its threshold, repeat interval; plus ``self.methods``."""

    scopes = ScopeChoices(
        queryset=Scope.objects.all(), required=False, widget=forms.CheckboxSelectMultiple, label="Scopes"
    )
    trigger = forms.ChoiceField(choices=[("", "Choose a trigger…")] + Trigger.choices)
    min_severity = forms.TypedChoiceField(
        label="Severity threshold",
        choices=THRESHOLD_CHOICES,
        coerce=int,
        empty_value=None,
        required=False,
        help_text="Only for triggers with a severity: act on events at least this severe.",
    )
    repeat_interval = forms.TypedChoiceField(
        label="Do not repeat the same finding for",
        coerce=int,
        initial=DEFAULT_REPEAT_INTERVAL,
        help_text="A finding already notified by this policy is recorded as suppressed during this time.",
    )

    class Meta:
        model = ResponsePolicy
        fields = ["name", "description", "enabled", "scopes", "trigger", "min_severity", "repeat_interval"]
        widgets = {"description": forms.Textarea(attrs={"rows": 2})}
        labels = {"enabled": "Enabled"}

    def __init__(self, *args, integrations: list[NotificationIntegration], scopes=None, **kwargs):
        """``scopes``: the scopes offered (those the person holds and those the policy already has); all by
        default (the admin)."""
        super().__init__(*args, **kwargs)
        if scopes is not None:
            self.fields["scopes"].queryset = scopes
        choices = list(REPEAT_CHOICES)
        current = self.instance.repeat_interval if self.instance.pk else None
        if current is not None and current not in dict(choices):
            choices.append((current, describe_interval(current)))
        self.fields["repeat_interval"].choices = choices
        self.fields["trigger"].widget.attrs["data-thresholds"] = ",".join(TRIGGER_DEFAULT_SEVERITY)
        if self.instance.pk:
            initial = [
                {"kind": m.integration.kind, "integration": m.integration_id}
                for m in self.instance.notification_methods.select_related("integration")
            ]
        else:
            initial = None
        self.methods = MethodFormSet(
            self.data if self.is_bound else None, initial=initial, prefix="methods", integrations=integrations
        )

    def validate_unique(self):
        # Name uniqueness (ignoring case) is one of the shared rules in policies.validation, checked in clean().
        pass

    def clean(self):
        cleaned = super().clean()
        values = {key: cleaned[key] for key in ("name", "scopes", "trigger", "min_severity") if key in cleaned}
        rows = self.methods.used_rows() if self.methods.is_valid() else None
        if rows is not None:
            values["notification_methods"] = [choice for _, choice in rows]
        errors, row_errors = check_policy(values, self.instance if self.instance.pk else None)
        add_errors(self, errors)
        for index, messages in row_errors.items():
            for message in messages:
                rows[index][0].add_error("integration", message)
        return cleaned

    def is_valid(self) -> bool:
        valid = super().is_valid()
        return self.methods.is_valid() and valid

    def values(self) -> dict:
        """The parsed values in the shape :mod:`policies.services` takes."""
        values = {key: self.cleaned_data[key] for key in self.Meta.fields}
        values["notification_methods"] = [choice for _, choice in self.methods.used_rows()]
        return values


class PatternsField(forms.CharField):
    """Glob patterns, one per line (commas also separate), as a list."""

    widget = forms.Textarea(attrs={"rows": 3, "spellcheck": "false", "class": "patterns"})

    def prepare_value(self, value):
        if isinstance(value, (list, tuple)):
            return "\n".join(value)
        return value

    def to_python(self, value) -> list[str]:
        text = super().to_python(value) or ""
        return [part.strip() for line in text.splitlines() for part in line.split(",") if part.strip()]


class ScopeRulesMixin:
    """A scope ModelForm that applies the shared rules (name unique ignoring case, clean patterns, Global fixed)."""

    def validate_unique(self):
        # Shared rule (case-insensitive) in policies.validation, checked in clean().
        pass

    def clean(self):
        cleaned = super().clean()
        values = {key: cleaned[key] for key in ("name", *Scope.PATTERN_FIELDS) if key in cleaned}
        errors, normalized = check_scope(values, self.instance if self.instance.pk else None)
        add_errors(self, errors)
        if not errors:
            cleaned.update(normalized)
        return cleaned


class ScopeForm(ScopeRulesMixin, forms.ModelForm):
    clusters = PatternsField(required=False, help_text="e.g. prod-*")
    namespaces = PatternsField(required=False, help_text="e.g. payments, kube-*")
    registries = PatternsField(required=False, help_text="e.g. registry.example.com")
    repositories = PatternsField(required=False, help_text="e.g. library/nginx, team-a/*")

    class Meta:
        model = Scope
        fields = ["name", "description", *Scope.PATTERN_FIELDS]
        widgets = {"description": forms.Textarea(attrs={"rows": 2})}

    def values(self) -> dict:
        return {key: self.cleaned_data[key] for key in self.Meta.fields}
