from django.apps import AppConfig


class SigninConfig(AppConfig):
    name = "deskgate.signin"
    label = "signin"

    def ready(self) -> None:
        # accounts sits below signin and may not import it: its actions ask the sign-in
        # app to void codes and devices, unlock and revoke through these hooks, which run
        # inside the action's own transaction (see deskgate.accounts.hooks).
        from deskgate.accounts import hooks
        from deskgate.signin import (
            challenge,
            checks,  # noqa: F401  # registers the checks
            devices,
            state,
        )

        hooks.register(
            hooks.SignInHooks(
                factor_changed=state.void_factor_state_many,
                unlock=challenge.unlock,
                revoke_devices=devices.revoke_all,
                forget_device=devices.forget_one,
            )
        )
