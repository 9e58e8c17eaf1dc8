"""Security headers: HTTPS behind a TLS proxy, the Content-Security-Policy and the API documentation served from our
own static files. (Screens under the policy in a real browser: tests/browser/test_content_security_policy.py.)"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings as django_settings

from tests.factories import PASSWORD, UserFactory

TLS_SETTINGS = (
    "SECURE_PROXY_SSL_HEADER",
    "SECURE_SSL_REDIRECT",
    "SECURE_REDIRECT_EXEMPT",
    "SECURE_HSTS_SECONDS",
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
)


def settings_started_with(**env: str) -> dict:
    """The TLS settings as a fresh process reads them from ``env`` (the test settings, so nothing is written)."""
    inherited = {
        key: value for key, value in os.environ.items() if key not in ("KCS_BEHIND_TLS_PROXY", "SESSION_COOKIE_SECURE")
    }
    code = f"import json, kcs.settings_test as s; print(json.dumps({{n: getattr(s, n) for n in {TLS_SETTINGS!r}}}))"
    result = subprocess.run(
        [sys.executable, "-B", "-c", code],
        cwd=django_settings.BASE_DIR,
        env={**inherited, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    values = json.loads(result.stdout.splitlines()[-1])
    if values["SECURE_PROXY_SSL_HEADER"] is not None:
        values["SECURE_PROXY_SSL_HEADER"] = tuple(values["SECURE_PROXY_SSL_HEADER"])
    return values


@pytest.fixture(scope="module")
def behind_proxy_values() -> dict:
    return settings_started_with(KCS_BEHIND_TLS_PROXY="true")


@pytest.fixture
def behind_tls_proxy(settings, behind_proxy_values):
    """The running test process configured as ``KCS_BEHIND_TLS_PROXY=true`` configures it."""
    for name, value in behind_proxy_values.items():
        setattr(settings, name, value)


# --- HTTPS behind a TLS proxy -------------------------------------------------------------------------------------
def test_without_the_proxy_setting_plain_http_is_served_as_before():
    values = settings_started_with()
    assert values["SECURE_PROXY_SSL_HEADER"] is None
    assert values["SECURE_SSL_REDIRECT"] is False and values["SECURE_HSTS_SECONDS"] == 0
    assert values["SESSION_COOKIE_SECURE"] is False and values["CSRF_COOKIE_SECURE"] is False


def test_behind_a_tls_proxy_the_forwarded_proto_is_trusted(behind_proxy_values):
    assert behind_proxy_values["SECURE_PROXY_SSL_HEADER"] == ("HTTP_X_FORWARDED_PROTO", "https")


@pytest.mark.django_db
def test_behind_a_tls_proxy_plain_http_is_redirected_to_https_except_the_probes(client, behind_tls_proxy):
    page = client.get("/policies/response/?q=prod")
    assert page.status_code == 301 and page["Location"] == "https://testserver/policies/response/?q=prod"
    api = client.post("/api/v1/events/", {}, content_type="application/json")
    assert api.status_code == 301 and api["Location"].startswith("https://")
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200
    assert "Strict-Transport-Security" not in client.get("/healthz").headers  # HSTS means nothing over plain HTTP


@pytest.mark.django_db
def test_behind_a_tls_proxy_https_responses_carry_hsts_and_cookies_are_secure(client, behind_tls_proxy):
    UserFactory(username="officer")
    login_page = client.get("/login/", HTTP_X_FORWARDED_PROTO="https")
    assert login_page.status_code == 200
    assert login_page["Strict-Transport-Security"] == "max-age=31536000"
    assert login_page.cookies["csrftoken"]["secure"] is True
    signed_in = client.post("/login/", {"username": "officer", "password": PASSWORD}, HTTP_X_FORWARDED_PROTO="https")
    assert signed_in.status_code == 302
    assert signed_in.cookies["sessionid"]["secure"] is True and signed_in.cookies["sessionid"]["httponly"] is True


# --- Content-Security-Policy --------------------------------------------------------------------------------------
def csp_directives(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in header.split(";") if part.strip()}


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/login/", "/policies/response/", "/tokens/", "/admin/", "/api/docs/"])
def test_screens_are_served_with_a_strict_content_security_policy(admin_client, path):
    response = admin_client.get(path)
    assert response.status_code == 200
    assert csp_directives(response) == {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }


def test_a_response_with_its_own_policy_keeps_it(rf):
    from django.http import HttpResponse

    from kcs.middleware import ContentSecurityPolicyMiddleware

    def view(request):
        response = HttpResponse()
        response["Content-Security-Policy"] = "default-src 'none'"
        return response

    assert ContentSecurityPolicyMiddleware(view)(rf.get("/"))["Content-Security-Policy"] == "default-src 'none'"


# What the policy blocks when it is written into a page: inline <script>/<style> blocks, event-handler attributes,
# style attributes and javascript: URLs. (Message templates are emails and chat messages, never a page.)
INLINE = re.compile(
    r"<script(?![^>]*\bsrc=)[^>]*>|<style\b|\son[a-z]+\s*=|\sstyle\s*=|javascript:|\shx-on\b|\shx-on:", re.I
)


def test_no_screen_template_has_inline_script_style_or_event_handler():
    templates = Path(django_settings.BASE_DIR, "templates")
    offending = [
        f"{path.relative_to(templates)}: {match.group(0).strip()}"
        for path in templates.rglob("*.html")
        if path.relative_to(templates).parts[0] != "messages"
        for match in INLINE.finditer(path.read_text())
    ]
    assert offending == []


# --- API documentation from our own static files ------------------------------------------------------------------
class _References(HTMLParser):
    """Every ``src`` and ``href`` of a page, and whether it holds an inline script."""

    def __init__(self):
        super().__init__()
        self.urls: list[str] = []
        self.inline_scripts = 0
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        values = dict(attrs)
        self.urls += [values[name] for name in ("src", "href") if values.get(name)]
        self._in_script = tag == "script" and not values.get("src")

    def handle_endtag(self, tag):
        self._in_script = False

    def handle_data(self, data):
        if self._in_script and data.strip():
            self.inline_scripts += 1


@pytest.mark.django_db
def test_api_docs_are_served_from_our_static_files_without_inline_script(admin_client):
    page = admin_client.get("/api/docs/")
    assert page.status_code == 200
    references = _References()
    references.feed(page.content.decode())
    assert references.inline_scripts == 0
    assert any("swagger-ui-bundle.js" in url for url in references.urls)
    external = [url for url in references.urls if re.match(r"^(https?:)?//", url)]
    assert external == [], "the page loads from another host"
    for url in references.urls:
        assert admin_client.get(url).status_code == 200, url  # every asset is served by us
    script = admin_client.get("/api/docs/?script=")
    assert script["Content-Type"].startswith("application/javascript")
    assert '"/api/schema/"' in script.content.decode()
