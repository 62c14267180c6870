"""Excel exports of compounds, buildings, units, households, residences (人房关联) and rentals,
and the house export's use column: each export needs its own permission, holds only the
user's area and the list's filters, masks personal data, writes labels not codes, is audited."""

from __future__ import annotations

import io
import random
import re
from dataclasses import dataclass
from datetime import date
from typing import Any

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import TestCase
from django.urls import reverse

from linli.accounts.models import Role, RoleAssignment
from linli.audit.models import AuditEntry
from linli.registry import services
from linli.registry.choices import (
    CompoundKind,
    Gender,
    HeadRelation,
    HouseUse,
    ImportStatus,
    RentalChannel,
    RentalMode,
    ResidenceRelation,
)
from linli.registry.excel.columns import PLACES, USE_SET_BY_HAND
from linli.registry.models import House, ImportJob
from linli.utilities.masking import mask_id_number
from linli.utilities.synthetic import make_credit_code

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

# Every stored code of the choices these sheets could show: none may appear as a cell.
RAW_CODES = {
    str(value)
    for choices in (
        CompoundKind,
        Gender,
        HeadRelation,
        HouseUse,
        RentalChannel,
        RentalMode,
        ResidenceRelation,
    )
    for value in choices.values
}


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


@dataclass
class Extra:
    """What the shared register lacks for these exports, one kind of each per community."""

    riverside: Any  # 河畔小区: community A, open, one building 2 (elevator, 1 unit), no houses
    household_a: Any  # A-0101: house_a101, head owner_a, spouse_a a member
    household_a2: Any  # A-0102: no house, no head
    household_b: Any  # B-0101: house_b101, head person_b
    rental_a: Any  # house_a102, tenant_a, whole flat through an agency
    rental_a2: Any  # house_a201, unhoused_a, single room through a platform
    rental_b: Any  # house_b101, person_b, shared flat, landlord directly


@pytest.fixture
def extra(register: Any, personas: Any, tree: Any) -> Extra:
    worker_a, worker_b = personas.community_worker_a, personas.community_worker_b
    riverside = services.create_compound(
        worker_a, region=tree.community_a, name="河畔小区", kind="open"
    )
    services.create_building(
        worker_a, compound=riverside, number="2", floors_above=18, has_elevator=True
    )
    household_a = services.create_household(
        worker_a,
        region=tree.community_a,
        number="A-0101",
        house=register.house_a101,
        head=register.owner_a,
    )
    services.update_record(
        worker_a, register.spouse_a, household=household_a, head_relation="spouse"
    )
    household_a2 = services.create_household(worker_a, region=tree.community_a, number="A-0102")
    household_b = services.create_household(
        worker_b,
        region=tree.community_b,
        number="B-0101",
        house=register.house_b101,
        head=register.person_b,
    )
    rental = services.create_rental
    return Extra(
        riverside=riverside,
        household_a=household_a,
        household_a2=household_a2,
        household_b=household_b,
        rental_a=rental(
            worker_a,
            house=register.house_a102,
            tenants=[register.tenant_a],
            mode="whole",
            channel="agency",
            monthly_rent="1200",
            start=date(2023, 6, 1),
        ),
        rental_a2=rental(
            worker_a,
            house=register.house_a201,
            tenants=[register.unhoused_a],
            mode="room",
            channel="platform",
            monthly_rent="600",
            start=date(2024, 1, 1),
            end=date(2024, 12, 31),
        ),
        rental_b=rental(
            worker_b,
            house=register.house_b101,
            tenants=[register.person_b],
            mode="shared",
            channel="self",
            monthly_rent="900",
            start=date(2022, 3, 1),
        ),
    )


def grant(user: Any, region: Any, *permissions: str) -> None:
    """What the security administrator does: a role holding these permissions, in ``region``."""
    role = Role.objects.create(
        code=f"export_{user.pk}_{Role.objects.count()}",
        name="导出",
        kind="staff",
        permissions=list(permissions),
    )
    RoleAssignment.objects.create(user=user, role=role, region=region)


def read_sheet(response: Any) -> tuple[str, list[list[Any]]]:
    content = b"".join(response.streaming_content)
    workbook = openpyxl.load_workbook(io.BytesIO(content))
    worksheet = workbook.worksheets[0]
    return worksheet.title, [list(row) for row in worksheet.iter_rows(values_only=True)]


def cells(rows: list[list[Any]]) -> list[str]:
    return [str(value) for row in rows for value in row if value is not None]


def column(rows: list[list[Any]], header: str) -> list[Any]:
    index = rows[0].index(header)
    return [row[index] for row in rows[1:]]


def row_where(rows: list[list[Any]], header: str, value: Any) -> dict[str, Any]:
    """The first data row whose ``header`` cell is ``value``, keyed by header."""
    row = rows[column(rows, header).index(value) + 1]
    return dict(zip(rows[0], row, strict=True))


def export(client: Any, slug: str, data: dict[str, str] | None = None) -> Any:
    return client.post(reverse("registry:export", args=[slug]), data or {})


@dataclass(frozen=True)
class Kind:
    slug: str
    model: str  # model name, for the permission and the list page
    sheet: str
    headers: tuple[str, ...]  # the first headers of the sheet
    rows_a: int  # rows of community A
    marker_a: str  # a cell value only community A's rows hold
    marker_b: str  # a cell value only community B's rows hold


KINDS = [
    Kind("compounds", "compound", "小区", ("社区代码", "所属区域", "小区名称"), 2, "锦源小区",
         "锦东小区"),
    Kind("buildings", "building", "楼栋", ("社区代码", "所属区域", "小区名称", "楼栋号"), 2,
         "锦源小区", "锦东小区"),
    Kind("units", "unit", "单元", ("社区代码", "所属区域", "小区名称", "楼栋号", "单元号"), 3,
         "锦源小区", "锦东小区"),
    Kind("households", "household", "户", ("社区代码", "所属区域", "户号"), 2, "A-0101", "B-0101"),
    Kind("residences", "residence", "人房关联", ("姓名", "身份证号", "社区代码"), 3, "锦源小区",
         "锦东小区"),
    Kind("rentals", "rental", "租赁", ("社区代码", "房屋地址", "租客姓名"), 2, "370124001022",
         "370124001018"),
]  # fmt: skip
BY_SLUG = {kind.slug: kind for kind in KINDS}
PERSONAL = ["households", "residences", "rentals"]


def _ids(kinds: list[Kind]) -> list[str]:
    return [kind.slug for kind in kinds]


# --- permission ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS, ids=_ids(KINDS))
def test_export_is_refused_without_the_kinds_own_permission(
    kind: Kind, register: Any, extra: Extra, personas: Any, login: Any, api: Any, tree: Any
) -> None:
    # Given a community worker who may export people, but not this kind.
    worker = personas.community_worker_a
    grant(worker, tree.community_a, "registry.export_person")
    before = AuditEntry.objects.filter(action="export").count()
    client = login(worker)

    page = client.get(reverse("registry:export", args=[kind.slug]))
    download = export(client, kind.slug)
    from_api = api(worker).get(f"/api/registry/exports/{kind.slug}/")
    listed = client.get(reverse(f"registry:{kind.model}_list"))

    assert page.status_code == download.status_code == from_api.status_code == 403
    assert "您没有导出" in page.content.decode() and "安全管理员" in page.content.decode()
    assert from_api.json()["error"]["message"].startswith("您没有导出")
    assert reverse("registry:export", args=[kind.slug]) not in listed.content.decode()
    assert AuditEntry.objects.filter(action="export").count() == before


@pytest.mark.parametrize("kind", KINDS, ids=_ids(KINDS))
def test_export_with_the_permission_holds_the_users_community_only_and_is_audited(
    kind: Kind, register: Any, extra: Extra, personas: Any, login: Any, tree: Any
) -> None:
    worker_a, worker_b = personas.community_worker_a, personas.community_worker_b
    grant(worker_a, tree.community_a, f"registry.export_{kind.model}")
    grant(worker_b, tree.community_b, f"registry.export_{kind.model}")

    response = export(login(worker_a), kind.slug)

    assert response.status_code == 200
    title, rows = read_sheet(response)
    assert title == kind.sheet
    assert tuple(rows[0][: len(kind.headers)]) == kind.headers
    assert len(rows) - 1 == kind.rows_a
    text = cells(rows)
    assert kind.marker_a in text and kind.marker_b not in text
    entry = AuditEntry.objects.filter(action="export").latest("seq")
    assert entry.actor_id == worker_a.pk
    assert entry.object_type == f"registry.{kind.model}"
    assert entry.note.startswith(f"{kind.rows_a} rows, masked")

    # And community B's worker, holding the same permission, gets only B's rows.
    _title, rows_b = read_sheet(export(login(worker_b), kind.slug))
    text_b = cells(rows_b)
    assert kind.marker_b in text_b and kind.marker_a not in text_b


@pytest.mark.parametrize("kind", KINDS, ids=_ids(KINDS))
def test_list_page_offers_the_export_with_the_lists_filters_once_permitted(
    kind: Kind, register: Any, extra: Extra, personas: Any, login: Any, tree: Any
) -> None:
    worker = personas.community_worker_a
    grant(worker, tree.community_a, f"registry.export_{kind.model}")

    page = login(worker).get(reverse(f"registry:{kind.model}_list") + "?q=x&page=1")

    assert page.status_code == 200
    assert reverse("registry:export", args=[kind.slug]) + "?q=x" in page.content.decode()


@pytest.mark.parametrize("kind", KINDS, ids=_ids(KINDS))
def test_api_export_of_the_kind_needs_its_permission_and_returns_the_area(
    kind: Kind, register: Any, extra: Extra, personas: Any, api: Any
) -> None:
    # The subdistrict manager may export every kind, across both communities of 榆山街道.
    response = api(personas.subdistrict_manager).get(f"/api/registry/exports/{kind.slug}/")

    assert response.status_code == 200
    _title, rows = read_sheet(response)
    text = cells(rows)
    assert kind.marker_a in text and kind.marker_b in text


@pytest.mark.parametrize("kind", KINDS, ids=_ids(KINDS))
def test_export_queries_do_not_grow_with_the_number_of_rows(
    kind: Kind, register: Any, extra: Extra, personas: Any, api: Any
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = api(personas.subdistrict_manager)
    url = f"/api/registry/exports/{kind.slug}/"
    # One row (a search that keeps only community B's) against every row of both communities.
    one = {"compounds": "锦东", "buildings": "锦东", "households": "B-0101"}.get(kind.slug)
    narrow = {"q": one} if one else {"region": "370124001018"}

    client.get(url)  # the user's roles are loaded once, on the first request
    with CaptureQueriesContext(connection) as few:
        _title, rows_few = read_sheet(client.get(url, narrow))
    with CaptureQueriesContext(connection) as many:
        _title, rows_many = read_sheet(client.get(url))

    assert len(rows_few) - 1 == 1 < len(rows_many) - 1
    assert len(many) == len(few)


# --- filters ------------------------------------------------------------------------------


def _filters(register: Any, extra: Extra) -> list[tuple[str, dict[str, str], int]]:
    """(kind, the list page's query, rows of community A it leaves)."""
    return [
        ("compounds", {"kind": "open"}, 1),
        ("compounds", {"q": "锦源"}, 1),
        ("buildings", {"has_elevator": "true"}, 1),
        ("buildings", {"compound": str(register.compound_a.pk)}, 1),
        ("units", {"building": str(register.building_a.pk)}, 2),
        ("households", {"house": str(register.house_a101.pk)}, 1),
        ("households", {"q": "A-0102"}, 1),
        ("residences", {"relation": "tenant"}, 1),
        ("residences", {"house": str(register.house_a101.pk)}, 2),
        ("rentals", {"mode": "room"}, 1),
        ("rentals", {"channel": "agency"}, 1),
    ]


def test_exports_hold_exactly_the_rows_of_the_filtered_list(
    register: Any, extra: Extra, personas: Any, login: Any, tree: Any
) -> None:
    worker = personas.community_worker_a
    grant(worker, tree.community_a, *(f"registry.export_{kind.model}" for kind in KINDS))
    client = login(worker)
    for slug, query, expected in _filters(register, extra):
        kind = BY_SLUG[slug]
        listed = client.get(reverse(f"registry:{kind.model}_list"), query).content.decode()
        page = client.get(reverse("registry:export", args=[slug]), query).content.decode()

        response = export(client, slug, query)

        _title, rows = read_sheet(response)
        assert len(rows) - 1 == expected, (slug, query)
        assert f"共 {expected} 条记录" in listed, (slug, query)
        # The export page counts the same rows and posts the filters on.
        assert f"有 {expected} 条记录符合筛选条件" in page, (slug, query)
        for key, value in query.items():
            assert f'name="{key}" value="{value}"' in page
        entry = AuditEntry.objects.filter(action="export").latest("seq")
        assert entry.note.startswith(f"{expected} rows")


# --- masking ------------------------------------------------------------------------------


@pytest.mark.parametrize("slug", PERSONAL)
def test_personal_exports_are_masked_by_default(
    slug: str, register: Any, extra: Extra, personas: Any, login: Any, tree: Any
) -> None:
    worker = personas.community_worker_a
    grant(worker, tree.community_a, f"registry.export_{BY_SLUG[slug].model}")

    _title, rows = read_sheet(export(login(worker), slug))

    text = " ".join(cells(rows))
    for plain in [*register.id_numbers.values(), *register.phones.values()]:
        assert plain not in text
    for name in ("王建国", "李秀英", "刘洋", "张敏"):
        assert name not in text
    # What is there instead: masked names (王**) and masked ID numbers (370124********1234).
    assert re.search(r"(^| )[王李刘张]\*+( |$)", text)
    assert re.search(r"(^| |、)370124\*{8}\d{3}[\dX]( |、|$)", text)


def test_residence_export_masks_the_person_and_names_the_house(
    register: Any, extra: Extra, personas: Any, login: Any, tree: Any
) -> None:
    worker = personas.community_worker_a
    grant(worker, tree.community_a, "registry.export_residence")

    _title, rows = read_sheet(export(login(worker), "residences", {"relation": "owner"}))

    assert len(rows) == 2
    row = dict(zip(rows[0], rows[1], strict=True))
    assert row["姓名"] == "王**"
    assert row["身份证号"] == mask_id_number(register.id_numbers["owner_a"])
    assert row["房屋地址"] == register.house_a101.address
    assert (row["小区名称"], row["楼栋号"], row["单元号"], row["房号"]) == (
        "锦源小区", "1", "1单元", "101"
    )  # fmt: skip
    assert (row["与房屋关系"], row["与户主关系"]) == ("产权人", "户主")
    assert (row["入住日期"], row["迁出日期"], row["是否主要住所"]) == ("2010-03-01", None, "是")


@pytest.mark.parametrize("slug", PERSONAL)
def test_unmasked_export_needs_reveal_and_is_audited_as_unmasked(
    slug: str, register: Any, extra: Extra, personas: Any, login: Any, api: Any, tree: Any
) -> None:
    # The community worker holds reveal_person; the subdistrict manager may export, not reveal.
    worker = personas.community_worker_a
    grant(worker, tree.community_a, f"registry.export_{BY_SLUG[slug].model}")
    manager = personas.subdistrict_manager
    before = AuditEntry.objects.filter(action="export").count()

    refused_page = login(manager).post(reverse("registry:export", args=[slug]), {"unmasked": "on"})
    refused_api = api(manager).get(f"/api/registry/exports/{slug}/?unmasked=1")

    assert refused_page.status_code == refused_api.status_code == 403
    assert "未脱敏" in refused_page.content.decode()
    assert AuditEntry.objects.filter(action="export").count() == before

    _title, rows = read_sheet(export(login(worker), slug, {"unmasked": "on"}))

    text = " ".join(cells(rows))
    revealed = {
        "households": ["owner_a"],
        "residences": ["owner_a", "tenant_a"],
        "rentals": ["tenant_a", "unhoused_a"],
    }[slug]
    assert all(register.id_numbers[key] in text for key in revealed)
    assert "UNMASKED" in AuditEntry.objects.filter(action="export").latest("seq").note


def test_organisation_export_masks_the_contact_person(
    register: Any, personas: Any, login: Any, tree: Any
) -> None:
    worker = personas.community_worker_a
    services.create_organisation(
        worker,
        region=tree.community_a,
        name="锦源便民超市",
        kind="merchant",
        credit_code=make_credit_code(random.Random("merchant_a")),
        contact_name="赵敏",
        contact_phone="13853112345",
    )
    grant(worker, tree.community_a, "registry.export_organisation")

    _title, rows = read_sheet(export(login(worker), "organisations", {"q": "超市"}))

    row = dict(zip(rows[0], rows[1], strict=True))
    assert (row["联系人"], row["联系电话"]) == ("赵*", "138****2345")


# --- labels, not codes or ids -------------------------------------------------------------


def test_exports_write_chinese_labels_and_names_never_codes_or_ids(
    register: Any, extra: Extra, personas: Any, login: Any, tree: Any
) -> None:
    worker = personas.community_worker_a
    grant(worker, tree.community_a, *(f"registry.export_{kind.model}" for kind in KINDS))
    client = login(worker)
    sheets = {kind.slug: read_sheet(export(client, kind.slug))[1] for kind in KINDS}

    for slug, rows in sheets.items():
        assert not RAW_CODES & set(cells(rows)), slug

    compounds = sheets["compounds"]
    jinyuan = row_where(compounds, "小区名称", "锦源小区")
    assert (jinyuan["小区类型"], jinyuan["物业公司"]) == ("封闭式小区", "锦源物业服务有限公司")
    assert (jinyuan["所属区域"], jinyuan["楼栋数"], jinyuan["房屋数"]) == ("锦源社区", 1, 4)
    assert "开放式小区" in column(compounds, "小区类型")

    buildings = sheets["buildings"]
    assert sorted(column(buildings, "小区名称")) == ["河畔小区", "锦源小区"]
    assert set(column(buildings, "是否有电梯")) == {"是", "否"}
    assert sorted(column(buildings, "单元数")) == [1, 2]

    units = sheets["units"]
    assert sorted(column(units, "单元号")) == ["1单元", "1单元", "2单元"]

    households = sheets["households"]
    a0101 = row_where(households, "户号", "A-0101")
    assert (a0101["户主姓名"], a0101["房屋地址"], a0101["户内人数"]) == (
        "王**", register.house_a101.address, 2
    )  # fmt: skip

    residences = sheets["residences"]
    assert set(column(residences, "与房屋关系")) == {"产权人", "家庭成员", "承租人"}
    assert set(column(residences, "与户主关系")) == {"户主", "配偶", None}

    rentals = sheets["rentals"]
    assert set(column(rentals, "出租方式")) == {"整租", "单间出租"}
    assert set(column(rentals, "出租渠道")) == {"中介", "网络平台"}
    assert set(column(rentals, "房屋地址")) == {
        register.house_a102.address,
        register.house_a201.address,
    }
    assert set(column(rentals, "到期日期")) == {None, "2024-12-31"}


def test_people_export_writes_gender_in_chinese_whatever_the_interface_language(
    register: Any, personas: Any, api: Any
) -> None:
    client = api(personas.subdistrict_manager)

    response = client.get("/api/registry/exports/people/", HTTP_ACCEPT_LANGUAGE="en")

    _title, rows = read_sheet(response)
    assert set(column(rows, "性别")) == {"男", "女"}
    assert set(column(rows, "登记类型")) <= {"户籍人口", "常住人口", "流动人口"}


# --- the house export's use ---------------------------------------------------------------


def _houses(client: Any) -> tuple[bytes, dict[str, dict[str, Any]]]:
    response = export(client, "houses")
    content = b"".join(response.streaming_content)
    rows = [
        list(row)
        for row in openpyxl.load_workbook(io.BytesIO(content))
        .worksheets[0]
        .iter_rows(values_only=True)
    ]
    return content, {row[-2]: dict(zip(rows[0], row, strict=True)) for row in rows[1:]}


def test_house_export_writes_the_effective_use_and_whether_it_was_set_by_hand(
    register: Any, personas: Any, login: Any, tree: Any
) -> None:
    worker = personas.community_worker_a
    services.set_house_use(worker, register.house_a2_601, "commercial")
    grant(worker, tree.community_a, "registry.export_house")

    _content, houses = _houses(login(worker))

    def use(house: House) -> tuple[str, str]:
        row = houses[house.address]
        return row["用途"], row[USE_SET_BY_HAND]

    assert use(register.house_a101) == ("自住", "否")  # derived: owner and family live there
    assert use(register.house_a102) == ("出租", "否")  # derived: a current tenant
    assert use(register.house_a201) == ("空置", "否")  # derived: nobody
    assert use(register.house_a2_601) == ("商用", "是")  # fixed by hand
    headers = list(next(iter(houses.values())))
    assert headers == [*PLACES.headers, "标准地址", "地址编码"]


def _import_places(client: Any, content: bytes, region: Any) -> ImportJob:
    with TestCase.captureOnCommitCallbacks(execute=True):
        client.post(
            reverse("registry:import_start", args=["places"]),
            {"region": region.pk, "file": SimpleUploadedFile("h.xlsx", content, content_type=XLSX)},
        )
    return ImportJob.objects.order_by("-pk").first()  # type: ignore[return-value]


def test_house_export_imports_back_creating_and_rejecting_nothing(
    register: Any, personas: Any, login: Any, tree: Any
) -> None:
    worker = personas.community_worker_a
    services.set_house_use(worker, register.house_a2_601, "commercial")
    grant(worker, tree.community_a, "registry.export_house")
    client = login(worker)
    content, _houses_before = _houses(client)
    houses_before = House.objects.count()

    job = _import_places(client, content, tree.community_a)

    assert job.status == ImportStatus.DONE, job.message
    assert (job.total_rows, job.created_count, job.rejected_count) == (4, 0, 0)
    assert House.objects.count() == houses_before
    register.house_a2_601.refresh_from_db()
    assert (register.house_a2_601.use, register.house_a2_601.use_is_explicit) == (
        "commercial", True
    )  # fmt: skip


def test_reimported_house_export_leaves_derived_uses_derived(
    register: Any, personas: Any, login: Any, tree: Any
) -> None:
    worker = personas.community_worker_a
    grant(worker, tree.community_a, "registry.export_house")
    client = login(worker)
    content, _houses_before = _houses(client)

    job = _import_places(client, content, tree.community_a)

    assert (job.updated_count, job.unchanged_count) == (0, 4), job.message
    derived = [register.house_a101, register.house_a102, register.house_a201]
    assert not House.objects.filter(pk__in=[h.pk for h in derived], use_is_explicit=True).exists()


def test_a_house_sheet_without_the_set_by_hand_column_still_imports(
    register: Any, personas: Any, login: Any, tree: Any
) -> None:
    # A sheet filled in from the template of before (no 用途为手工设定 column).
    workbook = openpyxl.Workbook()
    worksheet = workbook.active
    worksheet.title = PLACES.name
    worksheet.append([header for header in PLACES.headers if header != USE_SET_BY_HAND])
    worksheet.append(
        ["370124001022", "锦源小区", "封闭式", "1", "6", "1", "否", "1", "301", "3", "80", "商用",
         "是", "是", "否", "是", "否"]
    )  # fmt: skip
    buffer = io.BytesIO()
    workbook.save(buffer)

    job = _import_places(login(personas.community_worker_a), buffer.getvalue(), tree.community_a)

    assert (job.created_count, job.rejected_count) == (1, 0), job.message
    house = House.objects.get(unit=register.unit_a1, number="301")
    assert (house.use, house.use_is_explicit) == ("commercial", True)


@pytest.mark.parametrize("query", ["age_band=bogus", "house=abc"])
def test_an_export_page_with_filters_that_do_not_parse_says_so(
    register: Any, personas: Any, login: Any, tree: Any, query: str
) -> None:
    worker = personas.community_worker_a
    grant(worker, tree.community_a, "registry.export_person")
    client = login(worker)
    before = AuditEntry.objects.count()
    for response in (
        client.get(f"/registry/export/people/?{query}"),
        client.post(f"/registry/export/people/?{query}", {query.split("=")[0]: "bogus"}),
    ):
        assert response.status_code == 400
        assert "系统出现错误" not in response.content.decode()
    assert AuditEntry.objects.count() == before
