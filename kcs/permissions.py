"""DRF permission classes: authentication on every call, and Django model permissions for each action."""

from rest_framework import permissions

from kcs.visibility import QUERY_PARAMETER, visibility_of


class ModelPermissions(permissions.DjangoModelPermissions):
    """Authenticated users with the model's Django permissions; reading needs the ``view`` permission too.

    Views without a queryset (health, schema) must set their own ``permission_classes``.
    """

    perms_map = {
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "OPTIONS": [],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
        "POST": ["%(app_label)s.add_%(model_name)s"],
        "PUT": ["%(app_label)s.change_%(model_name)s"],
        "PATCH": ["%(app_label)s.change_%(model_name)s"],
        "DELETE": ["%(app_label)s.delete_%(model_name)s"],
    }

    def has_permission(self, request, view) -> bool:
        allowed = super().has_permission(request, view)
        if allowed and QUERY_PARAMETER in request.query_params:
            visibility_of(request)  # every call takes ?scope=: one the caller does not hold is a 400 naming it
        return allowed


def view_manage_permissions(view: str, manage: str) -> type[ModelPermissions]:
    """API rights of a screen with one *view* and one *manage* right, as the screen checks them: reading needs
    ``view``, every write needs ``manage``. Rights are ``app_label.codename`` names from :mod:`kcs.rights`."""

    class ViewManagePermissions(ModelPermissions):
        perms_map = {
            **ModelPermissions.perms_map,
            "GET": [view],
            "HEAD": [view],
            "POST": [manage],
            "PUT": [manage],
            "PATCH": [manage],
            "DELETE": [manage],
        }

    ViewManagePermissions.__name__ = ViewManagePermissions.__qualname__ = f"ViewManage_{manage.replace('.', '_')}"
    return ViewManagePermissions
