"""The rights catalog: every right of the product, once (permission → area, label), and the system roles.

A right is a Django permission, named ``app_label.codename`` as ``user.has_perm()`` takes it. The role form groups
the rights by area, the API lists a role's rights by these names, the README's rights table is this catalog, and the
system roles are seeded from :data:`SYSTEM_ROLES` (by migration, and again after every ``migrate`` so that a right
another app's later migration creates reaches them). A right whose permission does not exist in the database (its
app's migration has not run) is neither shown nor assigned.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

VIEW_POLICIES = "policies.view_responsepolicy"
MANAGE_POLICIES = "policies.manage_responsepolicy"
VIEW_SCOPES = "policies.view_scope"
MANAGE_SCOPES = "kcs.manage_scope"
VIEW_GLOBAL_SCOPE = "kcs.view_global_scope"
MANAGE_GLOBAL_SCOPE = "kcs.manage_global_scope"
VIEW_INTEGRATIONS = "notifications.view_notificationintegration"
MANAGE_INTEGRATIONS = "kcs.manage_integration"
VIEW_EVENTS = "events.view_securityevent"
POST_EVENTS = "events.add_securityevent"
VIEW_RISKS = "events.view_riskacceptance"
MANAGE_RISKS = "events.manage_riskacceptance"
VIEW_SILENCES = "policies.view_silence"
MANAGE_SILENCES = "policies.manage_silence"
VIEW_SECURITY_LOG = "kcs.view_auditentry"
VIEW_ACCESS = "kcs.view_access"
MANAGE_ACCESS = "kcs.manage_access"
MANAGE_OWN_TOKENS = "kcs.manage_own_tokens"


@dataclass(frozen=True)
class Right:
    permission: str  # "app_label.codename"
    area: str
    label: str


RIGHTS: tuple[Right, ...] = (
    Right(VIEW_POLICIES, "Response policies", "View response policies"),
    Right(MANAGE_POLICIES, "Response policies", "Manage response policies"),
    Right(VIEW_SCOPES, "Scopes", "View scopes"),
    Right(MANAGE_SCOPES, "Scopes", "Manage scopes"),
    Right(VIEW_GLOBAL_SCOPE, "Scopes", "View the Global scope"),
    Right(MANAGE_GLOBAL_SCOPE, "Scopes", "Manage the Global scope"),
    Right(VIEW_INTEGRATIONS, "Integrations", "View integrations and the delivery log"),
    Right(MANAGE_INTEGRATIONS, "Integrations", "Manage integrations (add, change, test, delete, retry deliveries)"),
    Right(VIEW_EVENTS, "Events", "View security events"),
    Right(POST_EVENTS, "Events", "Post security events"),
    Right(VIEW_RISKS, "Risks and silences", "View risk acceptances"),
    Right(MANAGE_RISKS, "Risks and silences", "Manage risk acceptances"),
    Right(VIEW_SILENCES, "Risks and silences", "View silences"),
    Right(MANAGE_SILENCES, "Risks and silences", "Manage silences"),
    Right(VIEW_SECURITY_LOG, "Security event log", "View the security event log"),
    Right(VIEW_ACCESS, "Users and roles", "View users and roles"),
    Right(MANAGE_ACCESS, "Users and roles", "Manage users and roles"),
    Right(MANAGE_OWN_TOKENS, "Account", "Manage own API tokens"),
)
BY_PERMISSION = {right.permission: right for right in RIGHTS}

_ALL = [right.permission for right in RIGHTS]
_VIEW_ALL = [
    VIEW_POLICIES,
    VIEW_SCOPES,
    VIEW_GLOBAL_SCOPE,
    VIEW_INTEGRATIONS,
    VIEW_EVENTS,
    VIEW_RISKS,
    VIEW_SILENCES,
    VIEW_SECURITY_LOG,
    VIEW_ACCESS,
    MANAGE_OWN_TOKENS,
]


@dataclass(frozen=True)
class SystemRole:
    role_id: str
    name: str
    description: str
    rights: tuple[str, ...]


SYSTEM_ROLES: tuple[SystemRole, ...] = (
    SystemRole(
        "KCSADM",
        "KCS administrator",
        "Runs the product: users and roles, integrations, scopes and the Global scope; reads everything else.",
        tuple(_VIEW_ALL + [MANAGE_ACCESS, MANAGE_INTEGRATIONS, MANAGE_SCOPES, MANAGE_GLOBAL_SCOPE]),
    ),
    SystemRole(
        "ISADM",
        "IS administrator",
        "Every right: security settings, integrations, users and roles.",
        tuple(_ALL),
    ),
    SystemRole(
        "ISAUD",
        "IS auditor",
        "Reads everything (policies, scopes, integrations, events, risks, the security event log, users and roles) "
        "and changes nothing.",
        tuple(_VIEW_ALL),
    ),
    SystemRole(
        "ISOFF",
        "IS officer",
        "Manages response policies, scopes, risks and silences; reads integrations, events and the security event log.",
        (
            VIEW_POLICIES,
            MANAGE_POLICIES,
            VIEW_SCOPES,
            MANAGE_SCOPES,
            VIEW_GLOBAL_SCOPE,
            MANAGE_GLOBAL_SCOPE,
            VIEW_INTEGRATIONS,
            VIEW_EVENTS,
            VIEW_RISKS,
            MANAGE_RISKS,
            VIEW_SILENCES,
            MANAGE_SILENCES,
            VIEW_SECURITY_LOG,
            MANAGE_OWN_TOKENS,
        ),
    ),
    SystemRole(
        "DEV",
        "Developer",
        "Reads the findings, policies and scopes that concern their images, and keeps API tokens for CI jobs.",
        (VIEW_POLICIES, VIEW_SCOPES, VIEW_GLOBAL_SCOPE, VIEW_EVENTS, VIEW_RISKS, VIEW_SILENCES, MANAGE_OWN_TOKENS),
    ),
    SystemRole(
        "SCANNER", "Scanner", "Posts security events (scanners, sensors and CI jobs); nothing else.", (POST_EVENTS,)
    ),
)
SYSTEM_ROLE_IDS = {role.role_id: role for role in SYSTEM_ROLES}
# Today's groups (before roles) and the system role each became: same group row, so members keep their access.
LEGACY_GROUPS = {"Security officer": "ISOFF", "Auditor": "ISAUD", "Scanner": "SCANNER"}


def split(permission: str) -> tuple[str, str]:
    app_label, codename = permission.split(".", 1)
    return app_label, codename


def permission_rows(permission_model, permissions: Iterable[str]):
    """The Permission rows (of ``permission_model``, real or historical) of the named rights that exist."""
    from django.db.models import Q

    wanted = Q(pk__in=[])
    for name in permissions:
        app_label, codename = split(name)
        wanted |= Q(content_type__app_label=app_label, codename=codename)
    return permission_model.objects.filter(wanted)


def seed_system_roles(apps) -> None:
    """Create the system roles or bring them back to their rights; today's groups become their system role.

    ``apps``: a migration's historical registry or the real one. Idempotent.
    """
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    Role = apps.get_model("kcs", "Role")
    for legacy, role_id in LEGACY_GROUPS.items():
        spec = SYSTEM_ROLE_IDS[role_id]
        if Role.objects.filter(role_id=role_id).exists() or Group.objects.filter(name=spec.name).exists():
            continue
        Group.objects.filter(name=legacy).update(name=spec.name)
    for spec in SYSTEM_ROLES:
        role = Role.objects.filter(role_id=spec.role_id).select_related("group").first()
        if role is None:
            group, _ = Group.objects.get_or_create(name=spec.name)
            role = Role.objects.create(group=group, role_id=spec.role_id, description=spec.description, is_system=True)
        else:
            group = role.group
            if group.name != spec.name:
                group.name = spec.name
                group.save(update_fields=["name"])
            if role.description != spec.description or not role.is_system:
                Role.objects.filter(pk=role.pk).update(description=spec.description, is_system=True)
        group.permissions.set(permission_rows(Permission, spec.rights))


def rights_table() -> str:
    """The README's rights table (Markdown): every right of the catalog, and which system role holds it."""
    header = ["Area", "Right", "Permission", *(role.role_id for role in SYSTEM_ROLES)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for right in RIGHTS:
        marks = ["✓" if right.permission in role.rights else "" for role in SYSTEM_ROLES]
        lines.append("| " + " | ".join([right.area, right.label, f"`{right.permission}`", *marks]) + " |")
    return "\n".join(lines)
