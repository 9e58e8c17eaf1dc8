"""Users: the rules (shared by the screen and the API) and the writes, each stored with its security event log entry
in one transaction.

Nobody deactivates or deletes themselves, and the last active user who can manage users and roles can be neither
deactivated, deleted nor stripped of that right. A forced password change (:attr:`UserProfile.must_change_password`)
keeps a person from everything but the password form (:mod:`kcs.middleware`) and their API tokens answer 403.
"""

from __future__ import annotations

import re
from typing import Any

from django.contrib.auth import get_user_model, password_validation, update_session_auth_hash
from django.contrib.auth.models import AbstractBaseUser
from django.contrib.auth.signals import user_logged_in
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet

from kcs import audit
from kcs.models import AuditAction, Role, UserProfile
from kcs.passwords import generate_password
from kcs.rights import MANAGE_ACCESS, split
from kcs.roles import AccessRefused, Errors
from kcs.signin import AUDITED_BY_SERVICE

User = get_user_model()
USERNAME_PATTERN = re.compile(r"[A-Za-z0-9._@-]{4,254}")
DISPLAY_NAME_MAX_LENGTH = UserProfile._meta.get_field("display_name").max_length
EMAIL_MAX_LENGTH = User._meta.get_field("email").max_length
LAST_MANAGER_MESSAGE = (
    "{username} is the last active user who can manage users and roles. Give another active user a role with that "
    "right first."
)


def profile_of(user: AbstractBaseUser, *, save: bool = True) -> UserProfile:
    """The user's profile; users made elsewhere (createsuperuser, the admin) get theirs on their first change
    (``save``), while reading them stores nothing (an unsaved profile with the defaults)."""
    try:
        return user.profile
    except UserProfile.DoesNotExist:
        if save:
            profile, _ = UserProfile.objects.get_or_create(user=user)
        else:
            profile = UserProfile(user=user)
        user.profile = profile
        return profile


FORCED_CHANGE_SESSION_KEY = "kcs_must_change_password"


def must_change_password(user) -> bool:
    """Whether ``user`` must set a new password before doing anything else."""
    return UserProfile.objects.filter(user_id=user.pk, must_change_password=True).exists()


def note_forced_change(sender, request, user, **kwargs) -> None:
    """On sign-in (``user_logged_in``): remember in the session whether the person must change their password."""
    if request is not None and hasattr(request, "session"):
        if must_change_password(user):
            request.session[FORCED_CHANGE_SESSION_KEY] = True
        else:
            request.session.pop(FORCED_CHANGE_SESSION_KEY, None)


user_logged_in.connect(note_forced_change, dispatch_uid="kcs-note-forced-password-change")


def snapshot(user) -> dict[str, Any]:
    profile = profile_of(user)
    return {
        "username": user.username,
        "display_name": profile.display_name,
        "email": user.email,
        "roles": sorted(Role.objects.filter(group__user=user).values_list("role_id", flat=True)),
        "scopes": sorted(profile.scopes.values_list("name", flat=True)) if profile.pk else [],
        "is_active": user.is_active,
        "must_change_password": profile.must_change_password,
    }


def managers() -> QuerySet:
    """Active users who can manage users and roles: superusers and members of a role with that right."""
    app_label, codename = split(MANAGE_ACCESS)
    return (
        User.objects.filter(is_active=True)
        .filter(
            Q(is_superuser=True)
            | Q(
                groups__role__isnull=False,
                groups__permissions__content_type__app_label=app_label,
                groups__permissions__codename=codename,
            )
        )
        .distinct()
    )


def _is_manager_with(user, roles: list[Role] | None, is_active: bool) -> bool:
    """Whether ``user`` would manage users with these roles (None: unchanged) and active state."""
    if not is_active:
        return False
    if user.is_superuser:
        return True
    app_label, codename = split(MANAGE_ACCESS)
    role_ids = (
        [role.pk for role in roles]
        if roles is not None
        else list(Role.objects.filter(group__user=user).values_list("pk", flat=True))
    )
    return Role.objects.filter(
        pk__in=role_ids, group__permissions__content_type__app_label=app_label, group__permissions__codename=codename
    ).exists()


def _refuse_losing_last_manager(user, field: str, roles: list[Role] | None = None, is_active: bool = True) -> None:
    if not managers().filter(pk=user.pk).exists():
        return
    if _is_manager_with(user, roles, is_active):
        return
    if not managers().exclude(pk=user.pk).exists():
        raise AccessRefused({field: [LAST_MANAGER_MESSAGE.format(username=user.username)]})


def _add(errors: Errors, field: str, message: str) -> None:
    errors.setdefault(field, []).append(message)


def check_password(errors: Errors, password: str, user=None, field: str = "password") -> None:
    try:
        password_validation.validate_password(password, user)
    except ValidationError as exc:
        errors.setdefault(field, []).extend(exc.messages)


def check_user(values: dict[str, Any], instance=None) -> tuple[Errors, dict[str, Any]]:
    """Field messages and cleaned values of ``{username, display_name, email, password, roles, is_active,
    must_change_password, scopes}`` (only those given; a new user needs username, password and roles; ``scopes``
    limits the person to those scopes of their roles)."""
    errors: Errors = {}
    cleaned: dict[str, Any] = {}
    creating = instance is None
    if "username" in values or creating:
        username = (values.get("username") or "").strip()
        if not username:
            _add(errors, "username", "Enter a user name.")
        elif not USERNAME_PATTERN.fullmatch(username):
            _add(
                errors,
                "username",
                "Use 4–254 characters: English letters, digits and . _ - @ (this one has "
                f"{len(username)} character{'s' if len(username) != 1 else ''}).",
            )
        elif User.objects.filter(username__iexact=username).exclude(pk=getattr(instance, "pk", None)).exists():
            _add(errors, "username", f"The user name {username} is taken.")
        else:
            cleaned["username"] = username
    if "display_name" in values:
        display_name = (values.get("display_name") or "").strip()
        if len(display_name) > DISPLAY_NAME_MAX_LENGTH:
            _add(errors, "display_name", f"Use at most {DISPLAY_NAME_MAX_LENGTH} characters.")
        else:
            cleaned["display_name"] = display_name
    if "email" in values:
        email = (values.get("email") or "").strip()
        try:
            if email:
                validate_email(email)
            if len(email) > EMAIL_MAX_LENGTH:
                raise ValidationError(f"Use at most {EMAIL_MAX_LENGTH} characters.")
        except ValidationError as exc:
            errors.setdefault("email", []).extend(exc.messages)
        else:
            cleaned["email"] = email
    if "password" in values or creating:
        password = values.get("password") or ""
        if not password:
            _add(errors, "password", "Enter a password.")
        else:
            probe = instance or User(username=cleaned.get("username", ""), email=cleaned.get("email", ""))
            before = len(errors.get("password", []))
            check_password(errors, password, probe)
            if len(errors.get("password", [])) == before:
                cleaned["password"] = password
    if "roles" in values or creating:
        roles = list(dict.fromkeys(values.get("roles") or []))
        if not roles:
            _add(errors, "roles", "Choose at least one role.")
        else:
            cleaned["roles"] = roles
    for flag in ("is_active", "must_change_password"):
        if flag in values:
            cleaned[flag] = bool(values[flag])
    if "scopes" in values:
        cleaned["scopes"] = list(dict.fromkeys(values.get("scopes") or []))
    return errors, cleaned


def _validated(values: dict[str, Any], instance=None) -> dict[str, Any]:
    errors, cleaned = check_user(values, instance)
    if errors:
        raise AccessRefused(errors)
    return cleaned


def create_user(request, values: dict[str, Any]):
    """Create a user. May raise :class:`AccessRefused`."""
    cleaned = _validated(values)
    try:
        with transaction.atomic():
            user = User(
                username=cleaned["username"], email=cleaned.get("email", ""), is_active=cleaned.get("is_active", True)
            )
            user.set_password(cleaned["password"])
            user.save()
            profile = UserProfile.objects.create(
                user=user,
                display_name=cleaned.get("display_name", ""),
                must_change_password=cleaned.get("must_change_password", False),
            )
            profile.scopes.set(cleaned.get("scopes", []))
            user.groups.set([role.group for role in cleaned["roles"]])
            audit.record(request, AuditAction.CREATE, user, audit.diff({}, snapshot(user)), object_type="user")
    except IntegrityError:
        raise AccessRefused({"username": [f"The user name {cleaned['username']} is taken."]}) from None
    return user


def update_user(request, user, values: dict[str, Any]):
    """Change the given fields of ``user``. May raise :class:`AccessRefused`."""
    cleaned = _validated(values, user)
    acting = getattr(request, "user", None)
    try:
        with transaction.atomic():
            user = User.objects.select_for_update().get(pk=user.pk)
            before = snapshot(user)
            if cleaned.get("is_active") is False and acting is not None and acting.pk == user.pk:
                raise AccessRefused({"is_active": ["You cannot deactivate yourself."]})
            if "roles" in cleaned or cleaned.get("is_active") is False:
                field = "is_active" if cleaned.get("is_active") is False else "roles"
                _refuse_losing_last_manager(user, field, cleaned.get("roles"), cleaned.get("is_active", user.is_active))
            for field in ("username", "email", "is_active"):
                if field in cleaned:
                    setattr(user, field, cleaned[field])
            if "password" in cleaned:
                user.set_password(cleaned["password"])
            user.save()
            profile = profile_of(user)
            for field in ("display_name", "must_change_password"):
                if field in cleaned:
                    setattr(profile, field, cleaned[field])
            profile.save()
            if "scopes" in cleaned:
                profile.scopes.set(cleaned["scopes"])
            if "roles" in cleaned:
                user.groups.set([role.group for role in cleaned["roles"]])
            changes = audit.diff(before, snapshot(user))
            if "password" in cleaned:
                changes["password"] = ["********", "changed"]
            if changes:
                action = AuditAction.UPDATE
                if set(changes) == {"is_active"}:
                    action = AuditAction.ENABLE if user.is_active else AuditAction.DISABLE
                audit.record(request, action, user, changes, object_type="user")
    except IntegrityError:
        raise AccessRefused({"username": [f"The user name {cleaned.get('username')} is taken."]}) from None
    if "password" in cleaned and acting is not None and acting.pk == user.pk and hasattr(request, "session"):
        update_session_auth_hash(request, user)  # a person who changes their own password stays signed in
    return user


def delete_user(request, user) -> None:
    """Delete ``user`` (their tokens go with them; the log keeps their name). May raise :class:`AccessRefused`."""
    acting = getattr(request, "user", None)
    if acting is not None and acting.pk == user.pk:
        raise AccessRefused(detail="You cannot delete yourself.")
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        _refuse_losing_last_manager(user, "is_active", [], False)
        audit.record(request, AuditAction.DELETE, user, audit.as_deleted(snapshot(user)), object_type="user")
        user.delete()


def reset_password(request, user) -> str:
    """Give ``user`` a temporary password that they must change at their next sign-in; returns it (shown once)."""
    password = generate_password()
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        user.set_password(password)
        setattr(user, AUDITED_BY_SERVICE, True)
        user.save(update_fields=["password"])
        profile = profile_of(user)
        was_forced = profile.must_change_password
        profile.must_change_password = True
        profile.save(update_fields=["must_change_password"])
        audit.record(
            request,
            AuditAction.PASSWORD_RESET,
            user,
            {"password": ["********", "temporary password"], "must_change_password": [was_forced, True]},
            object_type="user",
        )
    return password


def change_own_password(request, new_password: str) -> None:
    """The signed-in person sets a new password (already validated by the form); a forced change is over."""
    user = request.user
    with transaction.atomic():
        user.set_password(new_password)
        setattr(user, AUDITED_BY_SERVICE, True)
        user.save(update_fields=["password"])
        profile = profile_of(user)
        was_forced = profile.must_change_password
        profile.must_change_password = False
        profile.save(update_fields=["must_change_password"])
        changes = {"password": ["********", "changed"]}
        if was_forced:
            changes["must_change_password"] = [True, False]
        audit.record(request, AuditAction.PASSWORD_CHANGE, user, changes, object_type="user")
    update_session_auth_hash(request, user)
    request.session.pop(FORCED_CHANGE_SESSION_KEY, None)


USER_SORTS = {
    "display_name": ("profile__display_name", "username"),
    "username": ("username",),
    "role": ("first_role", "username"),
}


def users_for_list(search: str = "", sort: str | None = None) -> tuple[QuerySet, str]:
    """Users with their profile and roles for the Users table and the API: ``search`` in the user name, ``sort``
    by a key of :data:`USER_SORTS` (``-`` first for descending; user name by default). Returns the rows and the
    sort applied."""
    from django.contrib.auth.models import Group
    from django.db.models import Min, Prefetch

    queryset = (
        User.objects.select_related("profile")
        .prefetch_related(Prefetch("groups", queryset=Group.objects.filter(role__isnull=False).select_related("role")))
        .annotate(first_role=Min("groups__name", filter=Q(groups__role__isnull=False)))
    )
    if search:
        queryset = queryset.filter(username__icontains=search)
    key = (sort or "").lstrip("-")
    if key not in USER_SORTS:
        key, sort = "username", "username"
    descending = (sort or "").startswith("-")
    fields = [f"-{field}" if descending else field for field in USER_SORTS[key]]
    return queryset.order_by(*fields), sort
