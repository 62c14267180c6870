from __future__ import annotations

from typing import Any

import pytest
from django.db import connection

from linli.accounts.models import User
from linli.utilities.fields import blind_index_for


def test_phone_is_stored_only_as_ciphertext(tree: Any) -> None:
    user = User.objects.create_user(
        username="u1", password="x", home_region=tree.county, phone="13912345678"
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT phone, phone_index FROM accounts_user WHERE id = %s", [user.pk])
        stored, index = cursor.fetchone()
    assert "13912345678" not in stored and stored.startswith("sm4gcm$")
    assert len(index) == 64 and "13912345678" not in index
    assert User.objects.get(pk=user.pk).phone == "13912345678"


def test_blind_index_finds_the_user_with_any_spelling(tree: Any) -> None:
    user = User.objects.create_user(
        username="u2", password="x", home_region=tree.county, phone="139 1234 5678"
    )
    found = User.objects.filter(phone_index=blind_index_for(User, "phone_index", "+86 13912345678"))
    assert list(found) == [user]


def test_encrypted_field_refuses_lookups_that_cannot_work(tree: Any) -> None:
    with pytest.raises(NotImplementedError):
        list(User.objects.filter(phone__contains="139"))


def test_empty_phone_has_empty_index(tree: Any) -> None:
    user = User.objects.create_user(username="u3", password="x", home_region=tree.county)
    assert user.phone_index == ""


def test_exact_match_on_ciphertext_is_refused_but_empty_works(tree: Any) -> None:
    User.objects.create_user(username="u4", password="x", home_region=tree.county)
    assert User.objects.filter(phone="").count() == 1
    with pytest.raises(NotImplementedError):
        list(User.objects.filter(phone="13912345678"))
