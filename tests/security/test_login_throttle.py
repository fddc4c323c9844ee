"""Finding 8: login attempts are reserved in the database before the password is checked
(no burst gets more checks than allowed, across processes), with a progressive delay per
user name and address instead of a lockout anyone could trigger."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

import pytest
from argon2 import PasswordHasher

from tests.support.accounts import ADMIN_ACTOR, PASSWORD
from tests.support.web import Api
from tickwork import FakeClock, Tickwork
from tickwork.auth.passwords import Passwords
from tickwork.auth.throttle import TooManyAttemptsError
from tickwork.auth.user_service import UserService
from tickwork.domain.errors import AuthenticationError

# Hashing that takes a few milliseconds, so concurrent guesses overlap as they would.
SLOWER_PASSWORDS = Passwords(PasswordHasher(time_cost=2, memory_cost=4096, parallelism=1))
ATTACKER = "203.0.113.66"
OWNER = "198.51.100.7"
# The documented policy: 4 free attempts per user name and address, the 5th blocks the
# pair for 1 s, doubling up to 15 minutes; 50 per address.
FREE = 5
ADDRESS_FREE = 50


def _attempt(auth: UserService, username: str, password: str, address: str) -> str:
    try:
        auth.login(username, password, address=address)
    except TooManyAttemptsError:
        return "throttled"
    except AuthenticationError:
        return "checked"
    return "ok"


def test_a_burst_of_concurrent_guesses_gets_only_the_free_attempts_checked(
    app: Tickwork, clock: FakeClock
) -> None:
    # Two services on two connection pools: two web processes sharing the database.
    processes = [
        Tickwork(app.database_url, clock=clock, passwords=SLOWER_PASSWORDS).users for _ in range(2)
    ]
    processes[0].create_user(ADMIN_ACTOR, "admin", role="admin", password=PASSWORD)
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()
    start = threading.Barrier(40)

    def guess(index: int) -> None:
        start.wait()
        outcome = _attempt(processes[index % 2], "admin", f"guess-{index}", ATTACKER)
        with lock:
            outcomes[outcome] += 1

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    try:
        assert outcomes == {"checked": FREE, "throttled": 40 - FREE}
        failed = [
            e
            for e in api_audit(app, "auth.login_failed")
            if e.after and e.after.get("address") == ATTACKER
        ]
        assert len(failed) == FREE
    finally:
        for process in processes:
            process.db.dispose()


def api_audit(app: Tickwork, action: str) -> list:  # type: ignore[type-arg]
    from tickwork.storage.audit_store import AuditFilter, AuditStore

    with app.db.read() as conn:
        return AuditStore().list(conn, AuditFilter(action=action), limit=1000)


def test_the_delay_grows_per_user_and_address(api: Api, clock: FakeClock) -> None:
    api.user("ada", role="viewer")
    auth = api.users
    outcomes = [_attempt(auth, "ada", "wrong", ATTACKER) for _ in range(FREE)]
    assert outcomes == ["checked"] * FREE
    waits = []
    for _ in range(4):
        with pytest.raises(TooManyAttemptsError) as refused:
            auth.login("ada", "wrong", address=ATTACKER)
        waits.append(refused.value.retry_after)
        clock.advance(refused.value.retry_after)
        assert _attempt(auth, "ada", "wrong", ATTACKER) == "checked"
    assert waits == [1.0, 2.0, 4.0, 8.0]
    # Names differ only in case: the same pair.
    assert _attempt(auth, "ADA", "wrong", ATTACKER) == "throttled"


def test_nobody_can_lock_the_owner_out(api: Api, clock: FakeClock) -> None:
    api.user("admin", role="admin")
    for _ in range(30):
        _attempt(api.users, "admin", "guess", ATTACKER)
    assert _attempt(api.users, "admin", "guess", ATTACKER) == "throttled"
    # The owner, from their own address, is neither refused nor slowed.
    assert _attempt(api.users, "admin", "typo", OWNER) == "checked"
    assert _attempt(api.users, "admin", PASSWORD, OWNER) == "ok"


def test_a_success_starts_the_pair_over(api: Api) -> None:
    api.user("bo", role="viewer")
    for _ in range(FREE - 1):
        assert _attempt(api.users, "bo", "wrong", OWNER) == "checked"
    assert _attempt(api.users, "bo", PASSWORD, OWNER) == "ok"
    for _ in range(FREE):
        assert _attempt(api.users, "bo", "wrong", OWNER) == "checked"
    assert _attempt(api.users, "bo", "wrong", OWNER) == "throttled"


def test_one_address_trying_many_names_slows_down(api: Api) -> None:
    names = [f"user{i}" for i in range(ADDRESS_FREE)]
    assert {_attempt(api.users, name, "pw", ATTACKER) for name in names} == {"checked"}
    assert _attempt(api.users, "someone-else", "pw", ATTACKER) == "throttled"
    assert _attempt(api.users, "someone-else", "pw", OWNER) == "checked"


def test_refusals_answer_429_with_retry_after(api: Api) -> None:
    api.user("cy", role="viewer")
    client = api.anonymous()
    answers = [
        client.post("/api/v1/auth/login", json={"username": "cy", "password": "wrong-pw"})
        for _ in range(FREE + 1)
    ]
    assert [a.status_code for a in answers] == [401] * FREE + [429]
    assert answers[-1].json()["error"]["code"] == "too_many_attempts"
    assert int(answers[-1].headers["retry-after"]) >= 1


def test_password_changes_are_throttled_alike(api: Api) -> None:
    user_id = api.user("di", role="viewer")
    for _ in range(FREE):
        with pytest.raises(AuthenticationError):
            api.users.change_password(user_id, "wrong", "a new long password", address=ATTACKER)
    with pytest.raises(TooManyAttemptsError):
        api.users.change_password(user_id, PASSWORD, "a new long password", address=ATTACKER)
    api.users.change_password(user_id, PASSWORD, "a new long password", address=OWNER)


def test_the_documented_policy() -> None:
    from tickwork.auth.throttle import ThrottlePolicy

    policy = ThrottlePolicy()
    assert (policy.free_attempts, policy.address_free_attempts) == (FREE, ADDRESS_FREE)
    assert [d.total_seconds() for d in policy.delays] == [
        1,
        2,
        4,
        8,
        16,
        32,
        64,
        128,
        256,
        512,
        900,
    ]
    assert policy.forget_after == timedelta(days=1).total_seconds()
