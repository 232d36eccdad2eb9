"""Authentication for the JSON API: staff sessions that passed MFA, and resident bearer tokens."""

from ninja.security import HttpBearer, SessionAuth

from madoguchi.identity.resident_services import api_token_user


class VerifiedStaffSession(SessionAuth):
    """A browser session of a staff member who passed the TOTP step (CSRF-checked for unsafe methods)."""

    def authenticate(self, request, key):
        user = request.user
        if user.is_authenticated and user.is_active and getattr(user, "is_verified", lambda: False)():
            return user
        return None


class ResidentBearer(HttpBearer):
    """`Authorization: Bearer <token>` from POST /api/v1/auth/jpki/login (mode "token")."""

    def authenticate(self, request, token):
        user = api_token_user(token)
        if user is not None and hasattr(user, "resident"):
            request.user = user
            return user
        return None


class ResidentSession(SessionAuth):
    def authenticate(self, request, key):
        user = request.user
        return user if user.is_authenticated and hasattr(user, "resident") else None
