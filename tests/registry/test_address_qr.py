"""The standard-address QR code (标准地址二维码) of a house, and where it points."""

from __future__ import annotations

from typing import Any

from django.urls import reverse


def test_house_page_shows_its_address_qr_code(login: Any, personas: Any, register: Any) -> None:
    house = register.house_a101
    client = login(personas.community_worker_a)

    page = client.get(reverse("registry:house_detail", args=[house.pk])).content.decode()
    svg = client.get(reverse("registry:house_qr", args=[house.pk]))

    assert house.address_code in page
    assert svg["Content-Type"] == "image/svg+xml"
    assert svg.content.decode().startswith("<svg")


def test_the_qr_target_leads_to_the_house_only_within_scope(
    login: Any, personas: Any, register: Any
) -> None:
    house = register.house_a101
    target = reverse("registry:house_by_address", args=[house.address_code])

    own = login(personas.community_worker_a).get(target)
    assert own.status_code == 302
    assert own["Location"] == reverse("registry:house_detail", args=[house.pk])
    other = login(personas.community_worker_b).get(target)
    assert other.status_code == 404
    assert (
        login(personas.community_worker_b)
        .get(reverse("registry:house_qr", args=[house.pk]))
        .status_code
        == 404
    )


def test_a_non_numeric_import_id_is_a_404(api: Any, personas: Any) -> None:
    assert api(personas.community_worker_a).get("/api/registry/imports/abc/").status_code == 404
