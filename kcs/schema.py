"""OpenAPI (drf-spectacular) extensions for the project's own classes, loaded when the project app is ready."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ApiTokenScheme(OpenApiAuthenticationExtension):
    """Documents :class:`kcs.authentication.ApiTokenAuthentication`: ``Authorization: Token <key>``."""

    target_class = "kcs.authentication.ApiTokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema) -> dict:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": 'An API token, sent as "Token <key>" (Account → API tokens, or manage.py create_api_token).',
        }
