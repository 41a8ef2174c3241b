"""What makes a username or a password acceptable."""

import re

USERNAME_PATTERN = re.compile(r"^[A-Za-z0-9_.\-]{3,32}$")
PASSWORD_MIN_LENGTH = 8
PASSWORD_MAX_LENGTH = 1024


def username_problem(username: str) -> str | None:
    """Why a username is not acceptable, or None when it is."""
    if not USERNAME_PATTERN.fullmatch(username):
        return "Usernames are 3-32 characters of letters, digits, '_', '-' and '.'."
    return None


def password_problem(password: str) -> str | None:
    """Why a password is not acceptable, or None when it is."""
    if len(password) < PASSWORD_MIN_LENGTH:
        return f"Passwords must be at least {PASSWORD_MIN_LENGTH} characters."
    if len(password) > PASSWORD_MAX_LENGTH:
        return f"Passwords must be at most {PASSWORD_MAX_LENGTH} characters."
    return None
