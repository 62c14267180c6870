"""Excel speaks the forms' words: templates, imports and exports use exactly the labels the
forms show for each choice, while files written with the older spellings (在业, 业主, 租户 …)
still import. The wrong-header message reads as one Chinese sentence, and a refused upload
brings the page back with the chosen target region."""

from __future__ import annotations

import io
import random
from datetime import date
from typing import Any

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import TestCase
from django.urls import reverse
from django.utils import translation

from linli.registry import forms as rf
from linli.registry.choices import (
    CompoundKind,
    Employment,
    HeadRelation,
    HouseUse,
    ImportStatus,
    ResidenceRelation,
)
from linli.registry.excel.columns import PEOPLE, PLACES, SHEETS
from linli.registry.excel.templates import template_workbook
from linli.registry.models import Compound, House, ImportJob, Person, Residence
from linli.utilities.synthetic import make_id_number
from tests.conftest import make_user
from tests.registry.conftest import Register

pytestmark = pytest.mark.django_db

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
COMMUNITY_A = "370124001022"


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


def _id(seed: int) -> str:
    return make_id_number(random.Random(f"finish{seed}"), "370124", date(1975, 6, 1))


def _filled_template(kind: str, rows: list[dict[str, str]]) -> bytes:
    """The downloadable template with rows typed into its data sheet under its own headers."""
    workbook = openpyxl.load_workbook(io.BytesIO(template_workbook(kind)))
    sheet = workbook[SHEETS[kind].name]
    headers = [cell.value for cell in sheet[1]]
    for row in rows:
        sheet.append([row.get(header, "") for header in headers])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _upload(client: Any, kind: str, content: bytes, region: Any) -> Any:
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post(
            reverse("registry:import_start", args=[kind]),
            {"region": region.pk, "file": SimpleUploadedFile("f.xlsx", content, XLSX)},
        )


def _finished_job() -> ImportJob:
    job = ImportJob.objects.latest("pk")
    assert job.status == ImportStatus.DONE, job.message
    assert job.rejected_count == 0, job.message
    return job


def _form_labels(field: Any) -> list[str]:
    return [str(label) for value, label in field.choices if value != ""]


# ---------------------------------------------------------------- one vocabulary


def test_template_choices_are_the_labels_the_forms_show(personas: Any) -> None:
    actor = personas.community_worker_a
    with translation.override("zh-hans"):
        person = rf.PersonForm(actor=actor)
        residence = rf.ResidenceForm(actor=actor)
        house = rf.HouseForm(actor=actor)
        compound = rf.CompoundForm(actor=actor)
        organisation = rf.OrganisationForm(actor=actor)
        shown = {
            ("people", "registration_type"): _form_labels(person.fields["registration_type"]),
            ("people", "education"): _form_labels(person.fields["education"]),
            ("people", "employment"): _form_labels(person.fields["employment"]),
            ("people", "political_status"): _form_labels(person.fields["political_status"]),
            ("people", "relation"): _form_labels(residence.fields["relation"]),
            ("people", "head_relation"): _form_labels(residence.fields["head_relation"]),
            ("places", "use"): _form_labels(house.fields["use"]),
            ("places", "compound_kind"): _form_labels(compound.fields["kind"]),
            ("organisations", "kind"): _form_labels(organisation.fields["kind"]),
        }
    # The interface language does not matter: the sheet is always in Chinese.
    with translation.override("en"):
        for (kind, key), labels in shown.items():
            assert SHEETS[kind].column(key).allowed() == " / ".join(labels), key
    assert "在职" in shown[("people", "employment")]
    assert "产权人" in shown[("people", "relation")]
    workbook = openpyxl.load_workbook(io.BytesIO(template_workbook("people")))
    instructions = " ".join(
        str(cell) for row in workbook["填写说明"].iter_rows(values_only=True) for cell in row
    )
    assert "在职" in instructions and "承租人" in instructions
    assert "在业" not in instructions and "租户" not in instructions


def test_a_template_filled_in_with_the_form_labels_imports(
    login: Any, personas: Any, register: Register, tree: Any
) -> None:
    house = register.house_a201
    address = {"小区名称": "锦源小区", "楼栋号": "1", "单元号": "1", "房号": "201"}
    rows = [
        {
            "姓名": "周新", "身份证号": _id(1), "登记类型": "流动人口", "民族": "汉族",
            "文化程度": "高中/中专", "就业状况": "个体经营", "政治面貌": "群众",
            "社区代码": COMMUNITY_A, **address, "与房屋关系": "承租人",
            "与户主关系": "户主", "入住日期": "2024-02-01",
        },
        {
            "姓名": "周老", "身份证号": _id(2), "登记类型": "流动人口", "就业状况": "离退休",
            "社区代码": COMMUNITY_A, **address, "与房屋关系": "其他居住人",
            "与户主关系": "祖父母/外祖父母", "入住日期": "2024-02-01",
        },
    ]  # fmt: skip

    response = _upload(
        login(personas.community_worker_a),
        "people",
        _filled_template("people", rows),
        tree.community_a,
    )

    assert response.status_code == 302
    assert _finished_job().created_count == 2
    young, old = Person.objects.get(name="周新"), Person.objects.get(name="周老")
    assert (young.employment, old.employment) == (Employment.SELF_EMPLOYED, Employment.RETIRED)
    assert old.head_relation == HeadRelation.GRANDPARENT
    relations = dict(Residence.objects.filter(house=house).values_list("person__name", "relation"))
    assert relations == {"周新": ResidenceRelation.TENANT, "周老": ResidenceRelation.OTHER}


def test_a_file_with_the_old_spellings_still_imports(
    login: Any, personas: Any, register: Register, tree: Any
) -> None:
    address = {"小区名称": "锦源小区", "楼栋号": "1", "单元号": "2", "房号": "601"}
    people = [
        {
            "姓名": "吴业", "身份证号": _id(3), "登记类型": "户籍", "就业状况": "在业",
            "社区代码": COMMUNITY_A, **address, "与房屋关系": "业主",
            "与户主关系": "本人", "入住日期": "2020-05-01",
        },
        {
            "姓名": "吴租", "身份证号": _id(4), "登记类型": "常住", "就业状况": "退休",
            "社区代码": COMMUNITY_A, **address, "与房屋关系": "租户",
            "与户主关系": "孙子女", "入住日期": "2020-05-01",
        },
    ]  # fmt: skip
    places = [
        {
            "社区代码": COMMUNITY_A, "小区名称": "旧式花园", "小区类型": "开放式", "楼栋号": "9",
            "单元号": "1", "房号": "101", "楼层": "1", "用途": "其他",
        },
    ]  # fmt: skip
    client = login(personas.community_worker_a)

    _upload(client, "people", _filled_template("people", people), tree.community_a)
    assert _finished_job().created_count == 2
    _upload(client, "places", _filled_template("places", places), tree.community_a)
    _finished_job()

    owner, tenant = Person.objects.get(name="吴业"), Person.objects.get(name="吴租")
    assert (owner.registration_type, owner.employment) == ("registered", Employment.EMPLOYED)
    assert (tenant.employment, tenant.head_relation) == (
        Employment.RETIRED,
        HeadRelation.GRANDCHILD,
    )
    assert set(
        Residence.objects.filter(house=register.house_a2_601).values_list("relation", flat=True)
    ) == {
        ResidenceRelation.OWNER,
        ResidenceRelation.TENANT,
    }
    assert Compound.objects.get(name="旧式花园").kind == CompoundKind.OPEN
    assert House.objects.get(building__compound__name="旧式花园").use == HouseUse.OTHER


def test_exports_write_the_form_labels(
    login: Any, personas: Any, register: Register, tree: Any
) -> None:
    from linli.accounts.models import Role, RoleAssignment

    worker = personas.community_worker_a
    role = Role.objects.create(
        code="finish_export_people",
        name="导出",
        kind="staff",
        permissions=["registry.export_person", "registry.export_house"],
    )
    RoleAssignment.objects.create(user=worker, role=role, region=tree.community_a)
    client = login(worker)

    people = client.post(reverse("registry:export", args=["people"]), {})
    houses = client.post(reverse("registry:export", args=["houses"]), {})

    def rows(response: Any) -> list[dict[str, Any]]:
        workbook = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)))
        values = list(workbook.worksheets[0].iter_rows(values_only=True))
        return [dict(zip(values[0], row, strict=True)) for row in values[1:]]

    relations = {row["与房屋关系"] for row in rows(people)}
    assert relations == {"产权人", "家庭成员", "承租人", None}
    assert {row["小区类型"] for row in rows(houses)} == {"封闭式小区"}
    assert "业主" not in relations and "租户" not in relations


# ---------------------------------------------------------------- messages and the form


def test_the_wrong_header_message_uses_chinese_punctuation_throughout(
    login: Any, personas: Any, tree: Any
) -> None:
    headers = [h for h in PEOPLE.headers if h != "姓名"] + ["备注"]
    workbook = openpyxl.Workbook()
    workbook.active.title = PEOPLE.name
    workbook.active.append(headers)
    workbook.active.append(["x"] * len(headers))
    buffer = io.BytesIO()
    workbook.save(buffer)

    response = _upload(
        login(personas.community_worker_a), "people", buffer.getvalue(), tree.community_a
    )

    assert response.status_code == 400
    message = str(response.context["form"].errors["file"][0])
    assert "缺少列：姓名；无法识别的列：备注" in message
    assert ";" not in message and "(" not in message and "," not in message
    assert not ImportJob.objects.exists()


@pytest.fixture
def two_community_worker(tree: Any, personas: Any) -> Any:
    """A worker of the whole subdistrict: the import may target either community."""
    return make_user("worker_s1", tree.subdistrict_1, "community_worker")


def _selected_region(response: Any) -> str:
    return str(response.context["form"]["region"].value() or "")


def test_a_refused_file_keeps_the_chosen_region(
    login: Any, tree: Any, two_community_worker: Any
) -> None:
    response = _upload(login(two_community_worker), "places", b"not excel at all", tree.community_b)

    assert response.status_code == 400
    assert _selected_region(response) == str(tree.community_b.pk)
    assert f'<option value="{tree.community_b.pk}" selected>' in response.content.decode()


def test_an_oversize_file_keeps_the_chosen_region(
    login: Any, tree: Any, two_community_worker: Any, settings: Any
) -> None:
    settings.LINLI_IMPORT_MAX_BYTES = 2048
    client = login(two_community_worker)
    # Refused for its declared length, before the body is read …
    declared = _upload(client, "people", b"\0" * (200 * 1024), tree.community_b)
    # … or by the upload handler, the file passing the declared check but not the limit.
    counted = _upload(client, "people", b"\0" * (10 * 1024), tree.community_b)

    for response in (declared, counted):
        assert response.status_code == 413
        assert _selected_region(response) == str(tree.community_b.pk)
        assert f'<option value="{tree.community_b.pk}" selected>' in response.content.decode()
    assert not ImportJob.objects.exists()


def test_a_region_outside_the_choices_is_not_selected_after_a_refusal(
    login: Any, personas: Any, tree: Any, settings: Any
) -> None:
    settings.LINLI_IMPORT_MAX_BYTES = 2048
    response = _upload(
        login(personas.community_worker_a), "people", b"\0" * (200 * 1024), tree.community_b
    )

    assert response.status_code == 413
    body = response.content.decode()
    assert tree.community_b.name not in body
    assert "selected" not in body.split('name="region"')[1].split("</select>")[0].replace(
        f'value="{tree.community_a.pk}" selected', ""
    )


def test_places_example_rows_use_the_form_labels() -> None:
    # The examples sheet is what a worker copies from.
    kinds = {row[PLACES.headers.index("小区类型")] for row in PLACES.examples}
    assert kinds == {"封闭式小区"}
    employment = {row[PEOPLE.headers.index("就业状况")] for row in PEOPLE.examples}
    assert employment <= {"在职", "个体经营"}
