from __future__ import annotations

from collections.abc import Callable

import pytest

from deskgate.accounts.models import User
from deskgate.signin import pipeline
from deskgate.signin.models import PendingSignIn, SignInVia


@pytest.fixture
def pending_for() -> Callable[[User], PendingSignIn]:
    def make(user: User) -> PendingSignIn:
        return pipeline.create_pending(user, via=SignInVia.PASSWORD, ip="127.0.0.1")

    return make
