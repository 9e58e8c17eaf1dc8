"""Roles: the rules a role must satisfy (shared by the screen, the API and the admin) and the writes, each stored
with its security event log entry in one transaction.

A role is a Django group (name, permissions) plus :class:`kcs.models.Role` (role ID, description). System roles
are seeded (:mod:`kcs.rights`) and cannot be changed or deleted. The last role that lets an active person manage
users and roles can neither be deleted nor lose that right, so nobody locks everyone out of access management.
"""

from __future__ import annotations

import re
from typing import Any

from django.contrib.auth.models import Group, Permission
from django.db import IntegrityError, transaction
from django.db.models import Q

from kcs import audit
from kcs.models import AuditAction, Role
from kcs.rights import MANAGE_ACCESS, MANAGE_GLOBAL_SCOPE, RIGHTS, permission_rows, split
from kcs.visibility import scope_model

ROLE_ID_PATTERN = re.compile(r"[A-Z0-9]+")
ROLE_ID_MAX_LENGTH = Role._meta.get_field("role_id").max_length
NAME_MAX_LENGTH = Group._meta.get_field("name").max_length
DESCRIPTION_MAX_LENGTH = 1000

Errors = dict[str, list[str]]


class AccessRefused(Exception):
    """Raised by the role and user services: field-level messages (``{field: [message]}``) or, for a refusal of
    the whole change, ``detail`` alone. Nothing was saved."""

    def __init__(self, errors: Errors | None = None, detail: str | None = None):
        self.errors = errors or {}
        self.detail = detail or " ".join(message for messages in self.errors.values() for message in messages)
        super().__init__(self.detail)


def available_rights() -> list[str]:
    """The catalog's rights whose permission exists in the database, in catalog order."""
    existing = {
        f"{app_label}.{codename}"
        for app_label, codename in permission_rows(Permission, [right.permission for right in RIGHTS]).values_list(
            "content_type__app_label", "codename"
        )
    }
    return [right.permission for right in RIGHTS if right.permission in existing]


def rights_of(role: Role) -> list[str]:
    """The role's rights as ``app_label.codename``, in catalog order (permissions outside the catalog last)."""
    held = {
        f"{app_label}.{codename}"
        for app_label, codename in role.group.permissions.values_list("content_type__app_label", "codename")
    }
    order = {right.permission: index for index, right in enumerate(RIGHTS)}
    return sorted(held, key=lambda name: (order.get(name, len(order)), name))


def scopes_of(role: Role) -> list:
    """The role's scopes: a system role covers the Global scope; a custom role's are stored."""
    Scope = scope_model()
    if role.is_system:
        return list(Scope.objects.filter(is_global=True))
    return list(role.scopes.all())


def snapshot(role: Role) -> dict[str, Any]:
    return {
        "role_id": role.role_id,
        "name": role.group.name,
        "description": role.description,
        "rights": rights_of(role),
        "scopes": sorted(scope.name for scope in scopes_of(role)),
    }


def _add(errors: Errors, field: str, message: str) -> None:
    errors.setdefault(field, []).append(message)


def check_role(values: dict[str, Any], instance: Role | None) -> tuple[Errors, dict[str, Any]]:
    """Field messages and the cleaned values of ``{role_id, name, description, rights}`` (only those given)."""
    errors: Errors = {}
    cleaned: dict[str, Any] = {}
    if "role_id" in values or instance is None:
        role_id = (values.get("role_id") or "").strip()
        if not role_id:
            _add(errors, "role_id", "Enter a role ID.")
        elif len(role_id) > ROLE_ID_MAX_LENGTH:
            _add(errors, "role_id", f"Use at most {ROLE_ID_MAX_LENGTH} characters.")
        elif not ROLE_ID_PATTERN.fullmatch(role_id):
            _add(errors, "role_id", "Use upper-case Latin letters (A–Z) and digits only, e.g. SECOPS2.")
        elif Role.objects.filter(role_id=role_id).exclude(pk=getattr(instance, "pk", None)).exists():
            _add(errors, "role_id", f"A role with the ID {role_id} already exists.")
        else:
            cleaned["role_id"] = role_id
    if "name" in values or instance is None:
        name = (values.get("name") or "").strip()
        if not name:
            _add(errors, "name", "Enter a name.")
        elif len(name) > NAME_MAX_LENGTH:
            _add(errors, "name", f"Use at most {NAME_MAX_LENGTH} characters.")
        elif Group.objects.filter(name__iexact=name).exclude(pk=getattr(instance, "group_id", None)).exists():
            _add(errors, "name", f"A role named “{name}” already exists.")
        else:
            cleaned["name"] = name
    if "description" in values:
        description = (values.get("description") or "").strip()
        if len(description) > DESCRIPTION_MAX_LENGTH:
            _add(errors, "description", f"Use at most {DESCRIPTION_MAX_LENGTH} characters.")
        else:
            cleaned["description"] = description
    if "rights" in values or instance is None:
        rights = list(dict.fromkeys(values.get("rights") or []))
        known = set(available_rights())
        unknown = [name for name in rights if name not in known]
        if unknown:
            _add(
                errors, "rights", f"Unknown right: {', '.join(unknown)}. Use the names GET /api/v1/roles/rights/ lists."
            )
        else:
            cleaned["rights"] = rights
    if "scopes" in values:
        cleaned["scopes"] = list(dict.fromkeys(values.get("scopes") or []))
    return errors, cleaned


GLOBAL_MESSAGE = "Giving the Global scope to a role needs the right “Manage the Global scope”."


def _refuse_unallowed_global(request, cleaned: dict[str, Any], role: Role | None) -> None:
    """Giving Global to a role (it then sees everything) needs *manage global scope*; keeping it does not."""
    if not any(scope.is_global for scope in cleaned.get("scopes", ())):
        return
    if role is not None and role.scopes.filter(is_global=True).exists():
        return
    acting = getattr(request, "user", None)
    if acting is None or not acting.has_perm(MANAGE_GLOBAL_SCOPE):
        raise AccessRefused({"scopes": [GLOBAL_MESSAGE]})


def _managers_elsewhere(role: Role | None) -> bool:
    """Whether a role other than ``role`` lets an active person manage users and roles."""
    app_label, codename = split(MANAGE_ACCESS)
    others = Role.objects.filter(
        group__permissions__content_type__app_label=app_label,
        group__permissions__codename=codename,
        group__user__is_active=True,
    )
    if role is not None:
        others = others.exclude(pk=role.pk)
    return others.exists()


def _is_last_manager_role(role: Role) -> bool:
    """The role grants *manage users and roles* to an active person and no other role does."""
    return (
        MANAGE_ACCESS in rights_of(role)
        and role.group.user_set.filter(is_active=True).exists()
        and not _managers_elsewhere(role)
    )


LAST_ROLE_MESSAGE = (
    "“{name}” is the last role that lets an active user manage users and roles. Give that right to another role "
    "with an active member first."
)


def _refuse_system(role: Role) -> None:
    if role.is_system:
        raise AccessRefused(detail=f"“{role.group.name}” is a system role: it cannot be changed or deleted.")


def _validated(values: dict[str, Any], instance: Role | None) -> dict[str, Any]:
    errors, cleaned = check_role(values, instance)
    if errors:
        raise AccessRefused(errors)
    return cleaned


def _set_rights(group: Group, rights: list[str]) -> None:
    group.permissions.set(permission_rows(Permission, rights))


def create_role(request, values: dict[str, Any]) -> Role:
    """Create a role from ``{role_id, name, description, rights, scopes}`` (scopes: Scope rows). May raise
    :class:`AccessRefused`."""
    cleaned = _validated(values, None)
    _refuse_unallowed_global(request, cleaned, None)
    try:
        with transaction.atomic():
            group = Group.objects.create(name=cleaned["name"])
            role = Role.objects.create(
                group=group, role_id=cleaned["role_id"], description=cleaned.get("description", "")
            )
            _set_rights(group, cleaned["rights"])
            role.scopes.set(cleaned.get("scopes", []))
            audit.record(request, AuditAction.CREATE, role, audit.diff({}, snapshot(role)), object_type="role")
    except IntegrityError:  # taken a moment ago by someone else
        raise AccessRefused({"role_id": ["A role with this ID or name already exists."]}) from None
    return role


def update_role(request, role: Role, values: dict[str, Any]) -> Role:
    """Change the given fields of a custom role. May raise :class:`AccessRefused`."""
    _refuse_system(role)
    cleaned = _validated(values, role)
    _refuse_unallowed_global(request, cleaned, role)
    try:
        with transaction.atomic():
            role = Role.objects.select_for_update().select_related("group").get(pk=role.pk)
            before = snapshot(role)
            if "rights" in cleaned and MANAGE_ACCESS not in cleaned["rights"] and _is_last_manager_role(role):
                raise AccessRefused({"rights": [LAST_ROLE_MESSAGE.format(name=role.group.name)]})
            if "name" in cleaned:
                role.group.name = cleaned["name"]
                role.group.save(update_fields=["name"])
            for field in ("role_id", "description"):
                if field in cleaned:
                    setattr(role, field, cleaned[field])
            role.save()
            if "rights" in cleaned:
                _set_rights(role.group, cleaned["rights"])
            if "scopes" in cleaned:
                role.scopes.set(cleaned["scopes"])
            changes = audit.diff(before, snapshot(role))
            if changes:
                audit.record(request, AuditAction.UPDATE, role, changes, object_type="role")
    except IntegrityError:
        raise AccessRefused({"role_id": ["A role with this ID or name already exists."]}) from None
    return role


def delete_role(request, role: Role) -> None:
    """Delete a custom role (its members lose its rights). May raise :class:`AccessRefused`."""
    _refuse_system(role)
    with transaction.atomic():
        role = Role.objects.select_for_update().select_related("group").get(pk=role.pk)
        if _is_last_manager_role(role):
            raise AccessRefused(detail=LAST_ROLE_MESSAGE.format(name=role.group.name))
        audit.record(request, AuditAction.DELETE, role, audit.as_deleted(snapshot(role)), object_type="role")
        role.group.delete()  # the role row goes with it


def roles_with_counts():
    """Roles for the list: with their group and the number of members."""
    from django.db.models import Count

    return Role.objects.select_related("group").annotate(
        member_count=Count("group__user", distinct=True),
        active_count=Count("group__user", filter=Q(group__user__is_active=True), distinct=True),
    )
