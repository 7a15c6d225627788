"""CSRF for the pages' forms: a signed double-submit cookie.

The cookie holds a random value; each form carries HMAC(SECRET_KEY, value). A cross-site page
can neither read the cookie nor compute the HMAC, and SameSite=Lax keeps the cookie off its
cross-site POSTs anyway.
"""

import hashlib
import hmac
import secrets

from fastapi import Request, Response

COOKIE = "specialistly_csrf"
FIELD = "csrf"


class CsrfGuard:
    def __init__(self, secret: str, *, secure: bool) -> None:
        self._secret, self._secure = secret.encode(), secure

    def _sign(self, value: str) -> str:
        return hmac.new(self._secret, b"csrf:" + value.encode(), hashlib.sha256).hexdigest()

    def token(self, request: Request) -> tuple[str, str | None]:
        """Answer the form token, and a new cookie value when the browser has none yet."""
        current = request.cookies.get(COOKIE)
        if current and 20 <= len(current) <= 100:
            return self._sign(current), None
        fresh = secrets.token_urlsafe(32)
        return self._sign(fresh), fresh

    def set_cookie(self, response: Response, value: str | None) -> None:
        if value is not None:
            response.set_cookie(
                COOKIE, value, httponly=True, samesite="lax", secure=self._secure, path="/"
            )

    def valid(self, request: Request, submitted: object) -> bool:
        cookie = request.cookies.get(COOKIE)
        if not cookie or not isinstance(submitted, str):
            return False
        return hmac.compare_digest(self._sign(cookie), submitted)
