"""Accounts on SQLite and PostgreSQL: sessions end when they expire, when the password
changes or the user goes; roles allow what they say; failed sign-ins are held back."""

from __future__ import annotations

from datetime import timedelta

import pytest

from social_crm.accounts.enums import Permission, Role
from social_crm.accounts.service import (
    Principal,
    add_user,
    remove_user,
    session_principal,
    set_password,
    sign_in,
    sign_out,
)
from social_crm.db import Database
from social_crm.db.base import utcnow
from social_crm.errors import TooManyAttempts

PASSWORD = "correct horse battery"


@pytest.fixture
def ann(db: Database) -> Database:
    with db.transaction() as session:
        add_user(session, "ann", password=PASSWORD, role=Role.COMMUNITY)
    return db


def test_a_session_lasts_its_lifetime_and_ends_on_sign_out(ann: Database) -> None:
    now = utcnow()
    with ann.transaction() as session:
        grant = sign_in(session, "ann", PASSWORD, address="a", lifetime=timedelta(hours=2), now=now)
    assert grant is not None and grant.principal.csrf_token
    with ann.transaction() as session:
        found = session_principal(session, grant.token, now=now + timedelta(minutes=119))
        assert found is not None and (found.name, found.role) == ("ann", "community")
        assert found.csrf_token == grant.principal.csrf_token
        assert session_principal(session, grant.token, now=now + timedelta(minutes=121)) is None
        assert session_principal(session, grant.token + "x", now=now) is None
        sign_out(session, grant.token)
        assert session_principal(session, grant.token, now=now) is None


def test_a_new_password_or_removal_signs_the_user_out_everywhere(ann: Database) -> None:
    with ann.transaction() as session:
        first = sign_in(session, "ann", PASSWORD, address="a")
        second = sign_in(session, "ann", PASSWORD, address="b")
    assert first and second
    with ann.transaction() as session:
        set_password(session, "ann", password="a brand new password")
    with ann.transaction() as session:
        assert session_principal(session, first.token) is None
        assert session_principal(session, second.token) is None
        third = sign_in(session, "ann", "a brand new password", address="a")
    assert third
    with ann.transaction() as session:
        remove_user(session, "ann")
    with ann.transaction() as session:
        assert session_principal(session, third.token) is None


def test_failures_are_held_back_for_the_window_and_a_success_clears_the_name(
    ann: Database,
) -> None:
    now = utcnow()
    for minute in range(4):
        with ann.transaction() as session:
            at = now + timedelta(minutes=minute)
            assert sign_in(session, "ann", "wrong", address="a", now=at) is None
    with ann.transaction() as session:  # the fifth try is right: the name starts afresh
        assert sign_in(session, "ann", PASSWORD, address="b", now=now + timedelta(minutes=5))
    for minute in range(6, 11):
        with ann.transaction() as session:
            sign_in(session, "ANN", "wrong", address="c", now=now + timedelta(minutes=minute))
    with pytest.raises(TooManyAttempts) as held:
        with ann.transaction() as session:
            sign_in(session, "ann", PASSWORD, address="d", now=now + timedelta(minutes=12))
    assert str(held.value) == "too many failed sign-ins; try again in 10 minutes"
    with ann.transaction() as session:  # 15 minutes after the oldest counted failure
        assert sign_in(session, "ann", PASSWORD, address="d", now=now + timedelta(minutes=21))


def test_each_role_allows_what_it_says() -> None:
    def can(role: Role) -> set[Permission]:
        return {p for p in Permission if Principal("x", role, "token").can(p)}

    assert can(Role.VIEWER) == {Permission.READ}
    assert can(Role.COMMUNITY) == {
        Permission.READ,
        Permission.ALERTS,
        Permission.LINKS,
        Permission.REPLIES,
    }
    assert can(Role.MARKETING) == {Permission.READ, Permission.AMBASSADORS}
    assert can(Role.ADMIN) == set(Permission)
