"""Deskgate: user administration and sign-in with per-user MFA for contact centers."""
