"""Forms of the project package: API token creation."""

from django import forms
from django.utils import timezone

from kcs.models import ApiToken


class ApiTokenForm(forms.ModelForm):
    expires_at = forms.DateTimeField(
        required=False,
        label="Expires",
        help_text="Optional. Leave empty for a token that does not expire.",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )

    class Meta:
        model = ApiToken
        fields = ["name", "expires_at"]

    def clean_expires_at(self):
        value = self.cleaned_data["expires_at"]
        if value and value <= timezone.now():
            raise forms.ValidationError("The expiry must be in the future.")
        return value
