"""A development OpenID provider that plays GビズID, so that business sign-in works on a bare machine.

Never installed in production: settings add it to INSTALLED_APPS only when DEV_IDP_ENABLED. It speaks the real
protocol (authorization code + PKCE S256, client_secret_basic, RS256 ID tokens, userinfo by scope), so the
relying party in identity.oidc is exercised exactly as it would be against GビズID.
"""
