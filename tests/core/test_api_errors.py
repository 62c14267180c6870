from __future__ import annotations

from typing import Any

from linli.regions.models import RegionNode


def test_deeply_nested_json_is_a_400_not_a_500(api: Any, personas: Any) -> None:
    before = RegionNode.objects.count()
    body = "[" * 100_000 + "]" * 100_000

    response = api(personas.county_operator).post(
        "/api/regions/", body, content_type="application/json"
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed"
    assert RegionNode.objects.count() == before


def test_login_with_a_malformed_forwarded_header_is_not_an_error(
    client: Any, personas: Any, settings: Any
) -> None:
    settings.LINLI_TRUST_PROXY = True
    response = client.post(
        "/accounts/login/",
        {"username": "worker_a", "password": "wrong"},
        HTTP_X_FORWARDED_FOR="notanip",
        REMOTE_ADDR="127.0.0.1",
    )
    assert response.status_code == 200


def test_lists_count_up_to_a_cap_and_say_so(api: Any, personas: Any, monkeypatch: Any) -> None:
    from linli.utilities.paging import CappedPaginator

    monkeypatch.setattr(CappedPaginator, "count_cap", 3)
    response = api(personas.county_operator).get("/api/regions/")

    body = response.json()
    assert body["count"] == 3 and body["count_is_capped"] is True
    assert len(body["results"]) == 3


def test_small_lists_give_the_exact_count(api: Any, personas: Any) -> None:
    body = api(personas.community_worker_a).get("/api/regions/").json()
    assert body["count_is_capped"] is False
    assert body["count"] == len(body["results"]) == 3  # community A and its two grids
