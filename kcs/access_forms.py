"""Forms of Administration → Access management (users, roles) and of the own-password change.

Forms only parse; :mod:`kcs.roles` and :mod:`kcs.users` check the rules (the same as the API's) and write.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import password_validation

from kcs.models import Role
from kcs.rights import BY_PERMISSION
from kcs.roles import available_rights, rights_of, scopes_of
from kcs.users import profile_of
from kcs.visibility import scope_model


def scope_field(label: str, help_text: str) -> forms.ModelMultipleChoiceField:
    return forms.ModelMultipleChoiceField(
        queryset=scope_model().objects.order_by("-is_global", "name"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label=label,
        help_text=help_text,
    )


def add_errors(form: forms.BaseForm, errors: dict[str, list[str]]) -> None:
    """Put a service's messages (``{field: [message]}``) on ``form``; unknown fields go to the form as a whole."""
    for field, messages in errors.items():
        for message in messages:
            form.add_error(field if field in form.fields else None, message)


class RoleForm(forms.Form):
    role_id = forms.CharField(
        label="Role ID", required=False, help_text="Upper-case Latin letters and digits, e.g. SECOPS."
    )
    name = forms.CharField(required=False)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
    rights = forms.MultipleChoiceField(required=False, widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args, instance: Role | None = None, **kwargs):
        if instance is not None and "initial" not in kwargs:
            kwargs["initial"] = {
                "role_id": instance.role_id,
                "name": instance.group.name,
                "description": instance.description,
                "rights": rights_of(instance),
                "scopes": scopes_of(instance),
            }
        super().__init__(*args, **kwargs)
        self.instance = instance
        self.fields["scopes"] = scope_field(
            "Scopes",
            "What the role's members see: events, policies and the rest within these scopes. The Global scope "
            "(everything) counts only with the right “View the Global scope”.",
        )
        self.fields["rights"].choices = [(name, BY_PERMISSION[name].label) for name in available_rights()]

    def values(self) -> dict[str, Any]:
        values = dict(self.cleaned_data)
        values["scopes"] = list(values.get("scopes") or [])
        return values

    def rights_by_area(self) -> list[tuple[str, list[Any]]]:
        """The rights' checkboxes grouped by area, in catalog order, for the template."""
        groups: dict[str, list[Any]] = {}
        for checkbox in self["rights"]:
            groups.setdefault(BY_PERMISSION[checkbox.data["value"]].area, []).append(checkbox)
        return list(groups.items())


class RoleChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, role: Role) -> str:
        return f"{role.group.name} ({role.role_id})"


class UserForm(forms.Form):
    """Add (with a password) or edit (password changes go through Reset password) a user."""

    username = forms.CharField(label="User name", required=False, help_text="4–254 characters: A–Z a–z 0–9 . _ - @")
    display_name = forms.CharField(label="Display name", required=False)
    email = forms.CharField(label="Email", required=False, widget=forms.EmailInput)
    password = forms.CharField(
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=" ".join(password_validation.password_validators_help_texts()[:1]),  # the product's own rule
    )
    must_change_password = forms.BooleanField(label="Change password at next sign-in", required=False)
    is_active = forms.BooleanField(label="Active", required=False, initial=True)
    roles = RoleChoiceField(
        queryset=Role.objects.select_related("group"), required=False, widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args, instance=None, **kwargs):
        if instance is not None and "initial" not in kwargs:
            profile = profile_of(instance, save=False)
            kwargs["initial"] = {
                "username": instance.username,
                "display_name": profile.display_name,
                "email": instance.email,
                "must_change_password": profile.must_change_password,
                "is_active": instance.is_active,
                "roles": list(Role.objects.filter(group__user=instance)),
                "scopes": list(profile.scopes.all()) if profile.pk else [],
            }
        super().__init__(*args, **kwargs)
        self.instance = instance
        self.fields["scopes"] = scope_field(
            "Limit to scopes",
            "Narrows what the user's roles let them see to these scopes; none: every scope of their roles.",
        )
        if instance is not None:
            del self.fields["password"]

    def values(self) -> dict[str, Any]:
        values = dict(self.cleaned_data)
        values["roles"] = list(values.get("roles") or [])
        values["scopes"] = list(values.get("scopes") or [])
        return values
