"""Who may see and change response policies and silences: one "manage" right for every write, "view" for reading."""

from __future__ import annotations

from kcs.permissions import ModelPermissions

VIEW_POLICIES = "policies.view_responsepolicy"
MANAGE_POLICIES = "policies.manage_responsepolicy"
VIEW_SILENCES = "policies.view_silence"
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
