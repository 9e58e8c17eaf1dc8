"""The product's password rule (a Django password validator, so every place that sets a password applies it) and
the passwords the product makes up itself (temporary passwords after a reset, the first admin's)."""

from __future__ import annotations

import secrets
import string

from django.core.exceptions import ValidationError

MIN_LENGTH = 6
MAX_LENGTH = 72  # bcrypt and many hashers read no further; a longer one only looks stronger
SPECIALS = "!#%+-.:=?@_~"  # of the generated passwords: none a shell or a URL would read specially


class PasswordRulesValidator:
    """6–72 characters with at least one digit, one special character, one upper-case and one lower-case letter.

    Listed in ``AUTH_PASSWORD_VALIDATORS``; every message names what is missing, all at once.
    """

    def __init__(self, min_length: int = MIN_LENGTH, max_length: int = MAX_LENGTH):
        self.min_length = min_length
        self.max_length = max_length

    def problems(self, password: str) -> list[str]:
        problems = []
        if len(password) < self.min_length:
            problems.append(f"at least {self.min_length} characters")
        if len(password) > self.max_length:
            problems.append(f"at most {self.max_length} characters")
        if not any(ch.isdigit() for ch in password):
            problems.append("a digit")
        if not any(not ch.isalnum() and not ch.isspace() for ch in password):
            problems.append("a special character such as ! # - or @")
        if not any(ch.isupper() for ch in password):
            problems.append("an upper-case letter")
        if not any(ch.islower() for ch in password):
            problems.append("a lower-case letter")
        return problems

    def validate(self, password: str, user=None) -> None:
        problems = self.problems(password)
        if problems:
            raise ValidationError("The password needs " + ", ".join(problems) + ".", code="password_rules")

    def get_help_text(self) -> str:
        return (
            f"{self.min_length}–{self.max_length} characters, with at least one digit, one special character, "
            "one upper-case and one lower-case letter."
        )


def generate_password(length: int = 16) -> str:
    """A random password that meets :class:`PasswordRulesValidator` (one of each kind, the rest mixed)."""
    kinds = [string.ascii_uppercase, string.ascii_lowercase, string.digits, SPECIALS]
    alphabet = "".join(kinds)
    chars = [secrets.choice(kind) for kind in kinds] + [secrets.choice(alphabet) for _ in range(length - len(kinds))]
    secrets.SystemRandom().shuffle(chars)
    return "".join(chars)
