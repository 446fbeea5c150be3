"""How apps' client secrets are stored: hashed, without a password's stretching.

A client secret is 128 random characters from django-oauth-toolkit's generator (over 700
bits): no dictionary reaches it, so stretching buys nothing, while argon2id at the users'
password cost would add about 40 ms of server CPU to every token, refresh, revocation and
introspection request of a confidential app. PBKDF2-SHA256 with one iteration is a salted
SHA-256 in Django's hasher format. It is listed after argon2id in PASSWORD_HASHERS, so
users' passwords never use it.
"""

from __future__ import annotations

from django.contrib.auth.hashers import PBKDF2PasswordHasher


class ClientSecretHasher(PBKDF2PasswordHasher):
    algorithm = "deskgate_client_secret"
    iterations = 1
