"""argon2id with the cost taken from settings, so changing the cost rehashes at sign-in."""

from __future__ import annotations

from django.contrib.auth.hashers import Argon2PasswordHasher

from deskgate.accounts.app_settings import app_settings


class ConfiguredArgon2PasswordHasher(Argon2PasswordHasher):
    """Django's argon2id hasher; memory, passes and lanes come from DESKGATE_PASSWORD_HASH.

    Django's `must_update` compares a stored hash's parameters with these, so a changed
    setting upgrades each password the next time its owner signs in.
    """

    @property
    def memory_cost(self) -> int:  # type: ignore[override]  # an attribute in Django; it only reads it
        return app_settings.PASSWORD_HASH.memory_cost

    @property
    def time_cost(self) -> int:  # type: ignore[override]  # as above
        return app_settings.PASSWORD_HASH.time_cost

    @property
    def parallelism(self) -> int:  # type: ignore[override]  # as above
        return app_settings.PASSWORD_HASH.parallelism
