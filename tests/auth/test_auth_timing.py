"""An unknown name costs what a wrong password costs (ASVS 2.2.x), with OWASP's argon2id."""

from __future__ import annotations

import statistics
import time

import pytest

from tests.support.pages import csrf_token, text


@pytest.mark.preset("owasp_argon2")
@pytest.mark.config(LOCKOUT_DELAY_AFTER=1000, LOCKOUT_THRESHOLD=1000, IP_THRESHOLD=1000)
def test_unknown_user_and_wrong_password_take_the_same_time(app, client, user):
    from idp.services import passwords

    # The user's hash must have the OWASP parameters too, or the comparison is unfair.
    user.password_hash = passwords.hash_password("Sông Hồng chảy mãi 2026")
    from idp.extensions import db

    db.session.commit()
    token = csrf_token(text(client.get("/login")))

    def attempt(username: str) -> float:
        start = time.perf_counter()
        response = client.post("/login", data={"username": username, "password": "wrong guess here",
                                               "csrf_token": token})
        elapsed = time.perf_counter() - start
        assert response.status_code == 401
        return elapsed

    attempt("an.nguyen"), attempt("nobody.at.all")  # warm up (the dummy hash is made once)
    known, unknown = [], []
    for i in range(15):  # interleaved, so that load on the machine hits both alike
        known.append(attempt("an.nguyen"))
        unknown.append(attempt(f"nobody.{i}"))
    known_median, unknown_median = statistics.median(known), statistics.median(unknown)
    assert known_median > 0.005  # argon2id with 19 MiB really ran
    assert abs(known_median - unknown_median) <= 0.25 * max(known_median, unknown_median), (
        known_median, unknown_median)
