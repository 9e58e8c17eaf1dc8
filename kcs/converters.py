"""The ``id`` path converter: a row id in a URL (``events/<id:pk>/``), registered when the project app is ready."""

from __future__ import annotations

from django.urls import register_converter

from kcs import bounds


class IdConverter:
    """Digits naming a row id from 1 to 2**63 - 1. Anything else does not match the URL, so it is a 404 without a
    query: a larger number than any database integer holds would make the lookup fail instead of finding nothing."""

    regex = "[0-9]+"

    def to_python(self, value: str) -> int:
        number = int(value)
        if not bounds.id_in_range(number):
            raise ValueError(f"{value} is not a row id")  # Django treats ValueError as "no match"
        return number

    def to_url(self, value: int | str) -> str:
        return str(int(value))


def register() -> None:
    register_converter(IdConverter, "id")
