"""Screens of the project package: the user's API tokens and the header's scope switcher."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin, PermissionRequiredMixin
from django.shortcuts import get_object_or_404, redirect
from django.utils.cache import add_never_cache_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import View
from django.views.generic import TemplateView

from kcs import tokens, visibility
from kcs.forms import ApiTokenForm
from kcs.models import ApiToken
from kcs.rights import MANAGE_OWN_TOKENS


class TokenListView(PermissionRequiredMixin, TemplateView):
    """The signed-in user's tokens; creating one shows its key once, on the response to the POST. Needs the right
    *manage own API tokens*."""

    permission_required = MANAGE_OWN_TOKENS
    template_name = "kcs/tokens.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.setdefault("form", ApiTokenForm())
        context["tokens"] = ApiToken.objects.filter(user=self.request.user)
        return context

    def post(self, request):
        form = ApiTokenForm(request.POST)
        if not form.is_valid():
            return self.render_to_response(self.get_context_data(form=form), status=400)
        token, key = tokens.issue(request, request.user, form.cleaned_data["name"], form.cleaned_data["expires_at"])
        # Rendered directly (not redirected) so the key never travels through a session or a URL, and kept out of
        # every cache (browser history, back button, proxies): it is shown once.
        response = self.render_to_response(self.get_context_data(new_key=key, new_token=token))
        add_never_cache_headers(response)
        return response


class TokenRevokeView(PermissionRequiredMixin, View):
    permission_required = MANAGE_OWN_TOKENS

    def post(self, request, pk: int):
        token = get_object_or_404(ApiToken, pk=pk, user=request.user)
        tokens.revoke(request, token)
        messages.success(request, f"Token “{token.name}” revoked.")
        return redirect("tokens")


class ScopeSwitchView(LoginRequiredMixin, View):
    """The header's scope switcher: makes one of the person's scopes (or all of them) the session's active scope,
    then goes back to the page it was used on."""

    def post(self, request):
        raw = request.POST.get("scope") or ""
        try:
            visibility.select(request, int(raw) if raw else None)
        except ValueError:  # not a number, or a scope the person does not hold (ScopeNotHeld)
            messages.error(request, "That scope is not one of yours.")
        back = request.POST.get("next") or ""
        if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}, require_https=False):
            back = "/"
        return redirect(back or "/")
