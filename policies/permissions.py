"""Who may see and change response policies and silences: one "manage" right for every write, "view" for reading."""

from __future__ import annotations

from rest_framework.permissions import SAFE_METHODS

from kcs.permissions import ModelPermissions

VIEW_POLICIES = "policies.view_responsepolicy"
MANAGE_POLICIES = "policies.manage_responsepolicy"
VIEW_SILENCES = "policies.view_silence"
READ_ONLY_POLICY = (
    "You can view this policy but not change it: it also covers scopes you do not hold. Ask someone who holds all "
    "of its scopes, or one of its author's roles, to change it."
)
MANAGE_SILENCES = "policies.manage_silence"


class ResponsePolicyPermissions(ModelPermissions):
    """API rights on response policies: reading needs *view*, any write needs *manage response policy settings*.

    Django's separate add/change/delete rights are not used for policies: the product has one "manage" right, as
    the screens do, so a person's rights are the same on the screen and in the API.
    """

    perms_map = {
        **ModelPermissions.perms_map,
        "POST": [MANAGE_POLICIES],
        "PUT": [MANAGE_POLICIES],
        "PATCH": [MANAGE_POLICIES],
        "DELETE": [MANAGE_POLICIES],
    }

    message = READ_ONLY_POLICY  # the 403's detail when has_object_permission() refuses

    def has_object_permission(self, request, view, obj) -> bool:
        """A write to a policy the caller sees only because it touches one of their scopes (KCS's rule (c) alone;
        ``editable`` as :func:`policies.queries.visible_policies` annotates it) is refused."""
        return request.method in SAFE_METHODS or getattr(obj, "editable", True)
