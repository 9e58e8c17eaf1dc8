"""Strict parsing of environment variables for settings.

Every reader raises ``ImproperlyConfigured`` naming the variable when its value is malformed, so a typo stops
start-up with a clear message instead of silently falling back to a default.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

# Off only inside writes_nothing(): then the embedded defaults (var/ folders, keys generated on a first start) are
# neither created nor generated.
_write_defaults = True

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str = "") -> str:
    """The variable's value, or ``default`` when it is unset."""
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    """A boolean: 1/true/yes/on or 0/false/no/off (case-insensitive)."""
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be one of 1/0, true/false, yes/no, on/off; got {raw!r}")


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    """A whole number, at least ``minimum`` when given."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number; got {raw!r}") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}; got {value}")
    return value


def comma_list(value: str) -> list[str]:
    """The items of a comma-separated value, stripped; blank items are dropped."""
    return [item.strip() for item in value.split(",") if item.strip()]


def env_list(name: str, default: list[str]) -> list[str]:
    """A comma-separated list; blank items are dropped."""
    raw = os.environ.get(name)
    if raw is None:
        return list(default)
    return comma_list(raw)


def env_choice(name: str, default: str, choices: set[str]) -> str:
    """One of ``choices`` (case-insensitive)."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value not in choices:
        raise ImproperlyConfigured(f"{name} must be one of {', '.join(sorted(choices))}; got {raw!r}")
    return value


@contextmanager
def writes_nothing() -> Iterator[None]:
    """Within the block :func:`ensure_dir` creates no folder and :func:`persistent_secret` generates no value (it
    raises instead): how ``kcs.settings_test`` imports ``kcs.settings`` without touching the disk."""
    global _write_defaults
    previous, _write_defaults = _write_defaults, False
    try:
        yield
    finally:
        _write_defaults = previous


def ensure_dir(path: Path) -> Path:
    """``path``, created with its parents (except inside :func:`writes_nothing`)."""
    if _write_defaults:
        path.mkdir(parents=True, exist_ok=True)
    return path


def persistent_secret(name: str, path: Path, factory=lambda: secrets.token_urlsafe(50)) -> str:
    """The variable's value; else a value generated once and kept in ``path`` (mode 0600).

    The embedded set-up has no configuration, yet sessions, tokens and encrypted secrets must survive a restart,
    so the generated value is stored under ``var/`` rather than regenerated on every start.
    """
    value = os.environ.get(name)
    if value:
        return value
    if path.exists():
        return path.read_text().strip()
    if not _write_defaults:
        raise ImproperlyConfigured(f"{name} must be set: these settings write no files, so it cannot be generated")
    path.parent.mkdir(parents=True, exist_ok=True)
    value = factory()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process (web or worker) won the race: use its value
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(value)
    return value
