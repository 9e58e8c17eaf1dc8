"""Who may see and change risk acceptances: *view risks* for reading, *manage risks* for every change."""

from __future__ import annotations

from kcs.permissions import ModelPermissions

VIEW_RISKS = "events.view_riskacceptance"
MANAGE_RISKS = "events.manage_riskacceptance"
VIEW_EVENTS = "events.view_securityevent"


class RiskAcceptancePermissions(ModelPermissions):
    """API rights: reading needs *view risks*; accepting, extending and cancelling need *manage risks*."""

    perms_map = {**ModelPermissions.perms_map, "POST": [MANAGE_RISKS]}
