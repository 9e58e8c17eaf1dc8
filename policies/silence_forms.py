"""The silence form: one input per matcher, the policies, the time window and the comment. It parses input; the
rules live in :mod:`policies.silence_rules` (the API applies the same ones)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils import timezone

from events.models import EventType, Severity
from policies.models import ResponsePolicy, Silence, SilenceState
from policies.silence_rules import MATCHER_FIELDS, MATCHER_LABELS, check_silence
from policies.validation import ValidationFailed

DEFAULT_DURATION = "24h"
# Matchers "Silence similar…" copies from an event: what identifies the finding and where it is, not its tag (the
# next build of the same image is as noisy) nor its title.
SIMILAR_FIELDS = ("type", "cluster", "namespace", "registry", "repository", "finding_id")
LOCAL_INPUT = "%Y-%m-%dT%H:%M"


class LocalDateTimeInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, **kwargs):
        super().__init__(format=LOCAL_INPUT, **kwargs)


class PolicyChoices(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: ResponsePolicy) -> str:
        return obj.name if obj.enabled else f"{obj.name} (disabled)"


def _glob(label: str) -> forms.CharField:
    return forms.CharField(label=label, required=False, help_text="glob, e.g. shop/* (ignores case)")


class SilenceForm(forms.Form):
    """A new silence, or a new version of one (``values()`` in the shape :mod:`policies.silences` takes)."""

    type = forms.ChoiceField(
        label=MATCHER_LABELS["type"], choices=[("", "Any type"), *EventType.choices], required=False
    )
    max_severity = forms.ChoiceField(
        label=MATCHER_LABELS["max_severity"],
        choices=[("", "Any severity")]
        + [
            (s.slug, s.label if s == Severity.UNKNOWN else f"{s.label} or lower")
            for s in sorted(Severity, reverse=True)
        ],
        required=False,
    )
    cluster = _glob(MATCHER_LABELS["cluster"])
    namespace = _glob(MATCHER_LABELS["namespace"])
    registry = _glob(MATCHER_LABELS["registry"])
    repository = _glob(MATCHER_LABELS["repository"])
    tag = _glob(MATCHER_LABELS["tag"])
    finding_id = _glob(MATCHER_LABELS["finding_id"])
    source = forms.CharField(label=MATCHER_LABELS["source"], required=False, help_text="e.g. trivy, falco")
    title_contains = forms.CharField(label=MATCHER_LABELS["title_contains"], required=False)
    policies = PolicyChoices(
        queryset=ResponsePolicy.objects.order_by("name"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None chosen: every policy.",
    )
    starts_at = forms.DateTimeField(label="Starts", required=False, widget=LocalDateTimeInput(), help_text="empty: now")
    duration = forms.CharField(
        label="Duration", required=False, initial=DEFAULT_DURATION, help_text="e.g. 2h, 3d, 1w (used when no end)"
    )
    ends_at = forms.DateTimeField(label="Ends", required=False, widget=LocalDateTimeInput())
    comment = forms.CharField(
        label="Comment", required=False, widget=forms.Textarea(attrs={"rows": 2}), help_text="Why (required)."
    )

    def __init__(self, *args, policies=None, **kwargs):
        """``policies``: the policies offered (those the person sees, plus those the silence names); all by default."""
        super().__init__(*args, **kwargs)
        if policies is not None:
            self.fields["policies"].queryset = policies

    @classmethod
    def initial_from_event(cls, event) -> dict[str, Any]:
        initial = {field: getattr(event, field) for field in SIMILAR_FIELDS if getattr(event, field)}
        return initial | {"duration": DEFAULT_DURATION}

    @classmethod
    def initial_from_silence(cls, silence: Silence) -> dict[str, Any]:
        now = timezone.now()
        initial: dict[str, Any] = dict(silence.matchers)
        initial["policies"] = list(ResponsePolicy.objects.filter(pk__in=silence.policies))
        initial["comment"] = silence.comment
        initial["duration"] = ""
        if silence.state_at(now) == SilenceState.PENDING:
            initial["starts_at"] = timezone.localtime(silence.starts_at)
        initial["ends_at"] = timezone.localtime(silence.ends_at) if silence.ends_at > now else None
        if initial["ends_at"] is None:
            initial["duration"] = DEFAULT_DURATION
        return initial

    def values(self) -> dict[str, Any]:
        """The parsed values (call after ``is_valid()``): an end given wins over the duration."""
        data = self.cleaned_data
        values: dict[str, Any] = {
            "matchers": {field: data[field] for field in MATCHER_FIELDS if data.get(field)},
            "policies": [policy.pk for policy in data.get("policies") or []],
            "starts_at": data.get("starts_at"),
            "comment": data.get("comment", ""),
        }
        if data.get("ends_at"):
            values["ends_at"] = data["ends_at"]
        else:
            values["duration"] = data.get("duration") or ""
        return values

    def clean(self):
        cleaned = super().clean()
        if not self.errors:
            try:
                check_silence(self.values(), timezone.now())
            except ValidationFailed as exc:
                add_silence_errors(self, exc.errors)
        return cleaned


def add_silence_errors(form: forms.Form, errors: dict[str, list[str]]) -> None:
    """Shared-rule messages on the form: a matcher's beside its input, the others beside their field."""
    for field, messages in errors.items():
        for message in messages:
            name, _, rest = message.partition(": ")
            if field == "matchers" and name in form.fields and name in MATCHER_FIELDS:
                form.add_error(name, rest)
            else:
                form.add_error(field if field in form.fields else None, message)


def matcher_fields(form: SilenceForm) -> list[forms.BoundField]:
    return [form[name] for name in MATCHER_FIELDS]
