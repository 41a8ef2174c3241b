"""How fast an account can be tried, on every worker (fixed windows in `ip_limits`).

- Logging in: beside the per-IP limit on /token (the route's), each account takes at most
  `login` attempts per window from addresses it has never logged in from. The addresses of an
  account's last successful logins (kept as salted hashes, `accounts.rules.address_tag`) are
  spared, so an attacker who tries someone's password from many addresses slows only strangers
  down: the owner still logs in from where they usually do. Nothing ever locks an account;
  every refusal is a 429 with Retry-After that ends with its window.
- Checking a password of a signed-in user (changing it, deleting the account): `password`
  attempts per user and window, so a stolen session cannot guess the password without limit.
- Avatar uploads: `avatar` per user and window (each one is decoded: CPU and memory).
"""

from dataclasses import dataclass

from simplechat.kit.errors import RateLimited
from simplechat.kit.iplimit import WindowLimiter

LOGIN_LIMIT_CODE = "login_limit"
PASSWORD_LIMIT_CODE = "password_limit"
AVATAR_LIMIT_CODE = "avatar_limit"
LOGIN_REFUSAL = (
    "Too many login attempts for this account from new places ({limit}). Try again later, "
    "or from where you usually log in."
)
PASSWORD_REFUSAL = "Too many password checks for this account ({limit}). Try again later."
AVATAR_REFUSAL = "Too many avatar uploads ({limit}). Try again later."


@dataclass(frozen=True, slots=True)
class Throttles:
    login: WindowLimiter
    password: WindowLimiter
    avatar: WindowLimiter

    @classmethod
    def of(cls, *, login: str, password: str, avatar: str) -> "Throttles":
        return cls(
            login=WindowLimiter(login, code=LOGIN_LIMIT_CODE, refusal=LOGIN_REFUSAL),
            password=WindowLimiter(password, code=PASSWORD_LIMIT_CODE, refusal=PASSWORD_REFUSAL),
            avatar=WindowLimiter(avatar, code=AVATAR_LIMIT_CODE, refusal=AVATAR_REFUSAL),
        )


# For the API docs.
LOGIN_429 = RateLimited(
    LOGIN_REFUSAL.format(limit="20 per 1 hour"), limit_code=LOGIN_LIMIT_CODE, retry_after=1800
)
PASSWORD_429 = RateLimited(
    PASSWORD_REFUSAL.format(limit="10 per 1 hour"), limit_code=PASSWORD_LIMIT_CODE, retry_after=1800
)
AVATAR_429 = RateLimited(
    AVATAR_REFUSAL.format(limit="20 per 1 hour"), limit_code=AVATAR_LIMIT_CODE, retry_after=1800
)
