"""Deskgate as the platform's OpenID Provider: the apps' sign-in (docs/oidc.md).

django-oauth-toolkit (DOT) does the protocol: authorization, token, UserInfo, JWKS,
revocation, introspection, RP-initiated logout, PKCE, signing. This app adds what is
Deskgate's own: the sign-in pipeline at the authorization endpoint (prompt, max_age,
step-up), the claims (`sub`, the client, the level, `amr`), which clients an app is open
to, code-replay revocation, back-channel logout and the operators' commands.
"""
