"""App config for the project package, which also holds API tokens and the audit log."""

from django.apps import AppConfig


class KcsConfig(AppConfig):
    name = "kcs"
    verbose_name = "KCS Response"
