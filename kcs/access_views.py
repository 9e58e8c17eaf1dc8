"""Administration → Access management: the Users and Roles screens, and the own-password change.

Thin: :mod:`kcs.access_forms` parses, :mod:`kcs.users` and :mod:`kcs.roles` check the rules and write with their
security event log entries. *View users and roles* shows the tables and read-only pages; *Manage users and roles*
adds the buttons and forms.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import PasswordChangeForm
from django.contrib.auth.mixins import LoginRequiredMixin, PermissionRequiredMixin
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.views import View

from kcs import roles as role_service
from kcs import users as user_service
from kcs.access_forms import RoleForm, UserForm, add_errors
from kcs.models import Role
from kcs.rights import BY_PERMISSION, MANAGE_ACCESS, VIEW_ACCESS
from kcs.roles import AccessRefused

User = get_user_model()
PAGE_SIZE = 50


class AccessView(PermissionRequiredMixin, View):
    """Readable with *view users and roles*; ``manage`` views need *manage users and roles*."""

    manage = False

    def get_permission_required(self):
        return [MANAGE_ACCESS] if self.manage else [VIEW_ACCESS]


def _saved(form, save):
    if not form.is_valid():
        return None
    try:
        return save()
    except AccessRefused as exc:
        if exc.errors:
            add_errors(form, exc.errors)
        else:
            form.add_error(None, exc.detail)
        return None


# --- users --------------------------------------------------------------------------------------------------------
class UserListView(AccessView):
    """Display name, user name, email, roles, last sign-in, active; search by user name; sortable."""

    def get(self, request):
        search = request.GET.get("q", "").strip()
        users, sort = user_service.users_for_list(search, request.GET.get("sort"))
        page = Paginator(users, PAGE_SIZE).get_page(request.GET.get("page"))
        return render(
            request,
            "kcs/access/user_list.html",
            {
                "page_obj": page,
                "users": page.object_list,
                "search": search,
                "sort": sort,
                "sort_columns": {key: ("-" + key if sort == key else key) for key in user_service.USER_SORTS},
                "can_manage": request.user.has_perm(MANAGE_ACCESS),
            },
        )


class UserCreateView(AccessView):
    manage = True

    def get(self, request):
        return render(request, "kcs/access/user_form.html", {"form": UserForm()})

    def post(self, request):
        form = UserForm(request.POST)
        if user := _saved(form, lambda: user_service.create_user(request, form.values())):
            messages.success(request, f"User {user.username} created.")
            return redirect("access-users")
        return render(request, "kcs/access/user_form.html", {"form": form}, status=400)


class UserEditView(AccessView):
    """The edit form; people with the view right only get a read-only page."""

    def get(self, request, pk: int):
        user = get_object_or_404(User, pk=pk)
        if not request.user.has_perm(MANAGE_ACCESS):
            return render(
                request,
                "kcs/access/user_detail.html",
                {
                    "person": user,
                    "profile": (profile := user_service.profile_of(user, save=False)),
                    "roles": Role.objects.filter(group__user=user),
                    "limit": list(profile.scopes.all()) if profile.pk else [],
                },
            )
        return render(request, "kcs/access/user_form.html", {"form": UserForm(instance=user), "person": user})

    def post(self, request, pk: int):
        if not request.user.has_perm(MANAGE_ACCESS):
            raise PermissionDenied
        user = get_object_or_404(User, pk=pk)
        form = UserForm(request.POST, instance=user)
        if _saved(form, lambda: user_service.update_user(request, user, form.values())):
            messages.success(request, f"User {user.username} saved.")
            return redirect("access-users")
        return render(request, "kcs/access/user_form.html", {"form": form, "person": user}, status=400)


class UserDeleteView(AccessView):
    manage = True

    def _blocked(self, request, user) -> str | None:
        if user.pk == request.user.pk:
            return "You cannot delete yourself."
        return None

    def get(self, request, pk: int):
        user = get_object_or_404(User, pk=pk)
        return render(
            request,
            "kcs/access/confirm_delete.html",
            {
                "name": user.username,
                "kind": "user",
                "blocked": self._blocked(request, user),
                "consequence": "Their API tokens stop working at once; the security event log keeps their name.",
                "cancel_url": reverse("access-users"),
            },
        )

    def post(self, request, pk: int):
        user = get_object_or_404(User, pk=pk)
        try:
            user_service.delete_user(request, user)
        except AccessRefused as exc:
            messages.error(request, exc.detail)
        else:
            messages.success(request, f"User {user.username} deleted.")
        return redirect("access-users")


class UserResetPasswordView(AccessView):
    """Reset password on the users selected in the table: each gets a temporary password, shown once, and must
    change it at their next sign-in."""

    manage = True

    def post(self, request):
        ids = [value for value in request.POST.getlist("users") if value.isdigit()]
        users = list(User.objects.filter(pk__in=ids).order_by("username")) if ids else []
        if not users:
            messages.error(request, "Select at least one user to reset the password of.")
            return redirect("access-users")
        issued = [(user, user_service.reset_password(request, user)) for user in users]
        # Rendered directly (never redirected, never cached) so the passwords travel through no session or URL.
        response = render(request, "kcs/access/temporary_passwords.html", {"issued": issued})
        add_never_cache_headers(response)
        return response


# --- roles --------------------------------------------------------------------------------------------------------
def _rights_rows(role: Role) -> list[tuple[str, list[str]]]:
    rows: dict[str, list[str]] = {}
    for name in role_service.rights_of(role):
        right = BY_PERMISSION.get(name)
        rows.setdefault(right.area if right else "Other", []).append(right.label if right else name)
    return list(rows.items())


class RoleListView(AccessView):
    def get(self, request):
        return render(
            request,
            "kcs/access/role_list.html",
            {"roles": role_service.roles_with_counts(), "can_manage": request.user.has_perm(MANAGE_ACCESS)},
        )


class RoleCreateView(AccessView):
    manage = True

    def get(self, request):
        return render(request, "kcs/access/role_form.html", {"form": RoleForm()})

    def post(self, request):
        form = RoleForm(request.POST)
        if role := _saved(form, lambda: role_service.create_role(request, form.values())):
            messages.success(request, f"Role “{role.group.name}” created.")
            return redirect("access-roles")
        return render(request, "kcs/access/role_form.html", {"form": form}, status=400)


class RoleEditView(AccessView):
    """The edit form; system roles and people with the view right only get a read-only page."""

    def get(self, request, pk: int):
        role = get_object_or_404(Role.objects.select_related("group"), pk=pk)
        if role.is_system or not request.user.has_perm(MANAGE_ACCESS):
            return render(
                request,
                "kcs/access/role_detail.html",
                {
                    "role": role,
                    "rights": _rights_rows(role),
                    "scopes": role_service.scopes_of(role),
                    "members": role.group.user_set.order_by("username"),
                },
            )
        return render(request, "kcs/access/role_form.html", {"form": RoleForm(instance=role), "role": role})

    def post(self, request, pk: int):
        if not request.user.has_perm(MANAGE_ACCESS):
            raise PermissionDenied
        role = get_object_or_404(Role.objects.select_related("group"), pk=pk)
        form = RoleForm(request.POST, instance=role)
        if _saved(form, lambda: role_service.update_role(request, role, form.values())):
            messages.success(request, f"Role “{role.group.name}” saved.")
            return redirect("access-roles")
        return render(request, "kcs/access/role_form.html", {"form": form, "role": role}, status=400)


class RoleDeleteView(AccessView):
    manage = True

    def get(self, request, pk: int):
        role = get_object_or_404(Role.objects.select_related("group"), pk=pk)
        return render(
            request,
            "kcs/access/confirm_delete.html",
            {
                "name": role.group.name,
                "kind": "role",
                "blocked": "System roles cannot be deleted." if role.is_system else None,
                "consequence": "Its members lose the rights it gave them.",
                "cancel_url": reverse("access-roles"),
            },
        )

    def post(self, request, pk: int):
        role = get_object_or_404(Role.objects.select_related("group"), pk=pk)
        name = role.group.name
        try:
            role_service.delete_role(request, role)
        except AccessRefused as exc:
            messages.error(request, exc.detail)
        else:
            messages.success(request, f"Role “{name}” deleted.")
        return redirect("access-roles")


# --- own password -------------------------------------------------------------------------------------------------
class PasswordChangeView(LoginRequiredMixin, View):
    """Account → Change password; the only page a person reaches while a password change is forced on them."""

    def _render(self, request, form, status=200):
        forced = user_service.must_change_password(request.user)
        return render(request, "kcs/password_change.html", {"form": form, "forced": forced}, status=status)

    def get(self, request):
        return self._render(request, PasswordChangeForm(request.user))

    def post(self, request):
        form = PasswordChangeForm(request.user, request.POST)
        if not form.is_valid():
            return self._render(request, form, status=400)
        user_service.change_own_password(request, form.cleaned_data["new_password1"])
        messages.success(request, "Your password was changed.")
        return redirect("home")
