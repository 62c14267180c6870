"""The overview of a county or subdistrict is cached; edits through the services invalidate it
at once, and viewers whose roles see different registers never share an entry."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from linli.accounts.models import Role
from linli.registry import services
from tests.conftest import make_user
from tests.registry.conftest import Register

pytestmark = pytest.mark.django_db


def test_the_county_overview_is_served_from_the_cache_until_a_change(
    register: Register, personas: Any, tree: Any, django_assert_num_queries: Any
) -> None:
    county = personas.county_operator
    first = services.community_overview(county, tree.county)
    assert first["people"] == 5
    with django_assert_num_queries(0):
        again = services.community_overview(county, tree.county)
    assert again["people"] == 5
    assert again["computed_at"] == first["computed_at"]
    assert again["region"] == tree.county

    services.create_person(personas.community_worker_a, region=tree.community_a, name="孙丽")
    fresh = services.community_overview(county, tree.county)
    assert fresh["people"] == 6
    assert fresh["computed_at"] > first["computed_at"]


def test_a_retired_record_leaves_the_cached_counts(
    register: Register, personas: Any, tree: Any
) -> None:
    county = personas.county_operator
    assert services.community_overview(county, tree.county)["people"] == 5
    services.retire_record(personas.community_worker_a, register.unhoused_a)
    assert services.community_overview(county, tree.county)["people"] == 4


def test_viewers_whose_roles_see_different_records_do_not_share_an_entry(
    register: Register, personas: Any, tree: Any
) -> None:
    full = services.community_overview(personas.county_operator, tree.county)
    assert full["houses"] == 5
    # A county-wide account whose role may see people but not houses.
    Role.objects.create(
        code="people_only", name="people only", permissions=["registry.view_person"]
    )
    narrow = make_user("people_only", tree.county, "people_only")
    seen = services.community_overview(narrow, tree.county)
    assert seen["people"] == 5
    assert seen["houses"] == 0


def test_a_community_overview_is_counted_live(
    register: Register, personas: Any, tree: Any, django_assert_num_queries: Any
) -> None:
    worker = personas.community_worker_a
    services.community_overview(worker, tree.community_a)
    with django_assert_num_queries(5, exact=False):
        services.community_overview(worker, tree.community_a)


def test_no_cache_when_the_setting_is_zero(
    register: Register, personas: Any, tree: Any, settings: Any
) -> None:
    settings.LINLI_OVERVIEW_CACHE_SECONDS = 0
    first = services.community_overview(personas.county_operator, tree.county)
    second = services.community_overview(personas.county_operator, tree.county)
    assert second["computed_at"] > first["computed_at"]


def test_dates_are_cached_apart(register: Register, personas: Any, tree: Any) -> None:
    county = personas.county_operator
    now = services.community_overview(county, tree.county, date(2026, 1, 1))
    past = services.community_overview(county, tree.county, date(1990, 1, 1))
    assert now["on"] == date(2026, 1, 1)
    assert past["on"] == date(1990, 1, 1)
    assert (now["elderly"], past["elderly"]) == (2, 0)  # 王建国 and 李秀英 turn 60 later
