"""Forms of the risk acceptance screens: they parse what a person typed; :mod:`events.acceptance_rules` checks it."""

from __future__ import annotations

from typing import Any

from django import forms

from events.acceptance_rules import PERIOD_DAYS_DEFAULT, AcceptanceRefused
from events.models import Extent
from kcs.filters import check_moment

UNTIL = "until"
UNLIMITED = "unlimited"
PERIOD_CHOICES = [
    ("7", "7 days"),
    ("30", "30 days"),
    ("90", "90 days"),
    ("365", "1 year"),
    (UNTIL, "Until a date"),
    (UNLIMITED, "Unlimited"),
]
# Where each rule's message is shown on these forms.
FIELD_OF = {
    "period_days": "period",
    "unlimited": "period",
    "expires_at": "expires_at",
    "reason": "reason",
    "extent": "extent",
}


class PeriodForm(forms.Form):
    """The end of an acceptance: a number of days from now, a date, or none."""

    period = forms.ChoiceField(choices=PERIOD_CHOICES, initial=str(PERIOD_DAYS_DEFAULT), label="Period")
    expires_at = forms.DateTimeField(
        required=False,
        label="Until",
        help_text="With “Until a date”.",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )

    def clean_expires_at(self):
        return check_moment(self.cleaned_data["expires_at"])

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("period") == UNTIL and not cleaned.get("expires_at") and "expires_at" not in self.errors:
            self.add_error("expires_at", "Pick the date and time the acceptance ends.")
        return cleaned

    def period_values(self) -> dict[str, Any]:
        """The period as the rules take it (``period_days``, ``expires_at`` or ``unlimited``)."""
        period = self.cleaned_data["period"]
        if period == UNLIMITED:
            return {"unlimited": True}
        if period == UNTIL:
            return {"expires_at": self.cleaned_data["expires_at"]}
        return {"period_days": int(period)}

    def show_refusal(self, refused: AcceptanceRefused) -> None:
        """Put a refusal's messages beside the fields they are about (the rest above the form)."""
        for field, messages in refused.errors.items():
            target = FIELD_OF.get(field)
            for message in messages:
                self.add_error(target if target in self.fields else None, message)


class AcceptForm(PeriodForm):
    """Accept the risk of the chosen events' findings: extent, reason and period."""

    extent = forms.ChoiceField(choices=Extent.choices, initial=Extent.IMAGE, widget=forms.RadioSelect)
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        label="Reason",
        help_text="Why the risk is accepted: who decided, what mitigates it, when it will be fixed.",
    )
    field_order = ["extent", "reason", "period", "expires_at"]

    def values(self) -> dict[str, Any]:
        return {"extent": self.cleaned_data["extent"], "reason": self.cleaned_data["reason"], **self.period_values()}
