"""The authenticator app and recovery codes under parallel requests (real DB connections):
one app code, or one recovery code, submitted at once in many sign-ins passes exactly once."""

from __future__ import annotations

from collections import Counter

import pytest

from deskgate.accounts.audit import Actor
from deskgate.signin import factors, pipeline
from deskgate.signin.factors import FactorCheck
from deskgate.signin.models import PendingSignIn, RecoveryCode, SignInVia
from tests.authenticator import app_code, enrol
from tests.signin.test_code_concurrency import in_parallel

pytestmark = pytest.mark.django_db(transaction=True)
BY = Actor(ip="127.0.0.1")


def _attempts(user, n: int) -> list[PendingSignIn]:
    return [pipeline.create_pending(user, via=SignInVia.PASSWORD, ip=None) for _ in range(n)]


def test_one_app_code_in_parallel_sign_ins_passes_exactly_once(user_factory, clock) -> None:
    from datetime import timedelta

    user = user_factory("agent", "email")
    secret, _ = enrol(user)
    clock(timedelta(minutes=5))
    code = app_code(secret)
    pendings = _attempts(user, 8)
    answers = in_parallel(8, lambda i: factors.verify_app(pendings[i].pk, code, by=BY).reason)
    counts = Counter(answers)
    assert counts[FactorCheck.OK] == 1 and counts[FactorCheck.USED] == 7
    assert PendingSignIn.objects.filter(code_passed=True).count() == 1


def test_one_recovery_code_in_parallel_sign_ins_passes_exactly_once(user_factory) -> None:
    user = user_factory("agent", "email")
    _, codes = enrol(user)
    pendings = _attempts(user, 8)
    answers = in_parallel(
        8, lambda i: factors.use_recovery_code(pendings[i].pk, codes[0], by=BY).reason
    )
    counts = Counter(answers)
    assert counts[FactorCheck.OK] == 1 and counts[FactorCheck.USED] == 7
    assert RecoveryCode.objects.filter(user=user, used_at__isnull=False).count() == 1
