"""Excel import and export of the register, as a community worker lives it: download the
template, import a file with good and bad rows, fix the error file, import again."""

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
from django.utils.translation import gettext as _

from linli.accounts.models import Role, RoleAssignment
from linli.audit.models import AuditEntry
from linli.registry.choices import HouseUse, ImportStatus
from linli.registry.excel import importer as importer_module
from linli.registry.excel.columns import ERROR_HEADER, PEOPLE, PLACES
from linli.registry.models import House, ImportJob, Person, Residence
from linli.utilities.fields import blind_index_for
from linli.utilities.synthetic import make_id_number

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


def workbook_bytes(headers: list[str], rows: list[list[Any]], sheet: str = "人员") -> bytes:
    workbook = openpyxl.Workbook()
    worksheet = workbook.active
    worksheet.title = sheet
    worksheet.append(headers)
    for row in rows:
        worksheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def read_sheet(content: bytes) -> list[list[Any]]:
    workbook = openpyxl.load_workbook(io.BytesIO(content))
    return [list(row) for row in workbook.worksheets[0].iter_rows(values_only=True)]


def new_id(seed: int, born: date = date(1990, 4, 1)) -> str:
    return make_id_number(random.Random(seed), "370124", born)


def person_row(
    name: str,
    id_number: str,
    *,
    code: str = "370124001022",
    house: tuple[str, str, str, str] | None = ("锦源小区", "1号楼", "1", "201"),
    relation: str = "租户",
    registration: str = "流动人口",
    moved_in: str = "2024-03-01",
    phone: str = "",
) -> list[Any]:
    compound, building, unit, number = house or ("", "", "", "")
    return [
        name, id_number, phone, registration, "汉族", "本科", "在业", "群众", code,
        compound, building, unit, number, relation if house else "", "", moved_in if house else "",
    ]  # fmt: skip


def upload(
    client: Any, content: bytes, region: Any, kind: str = "people", name: str = "x.xlsx"
) -> Any:
    """Upload through the page; the job (queued on commit) runs before this returns."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post(
            reverse("registry:import_start", args=[kind]),
            {"region": region.pk, "file": SimpleUploadedFile(name, content, content_type=XLSX)},
        )


def last_job() -> ImportJob:
    return ImportJob.objects.order_by("-pk").first()  # type: ignore[return-value]


# --- templates ---------------------------------------------------------------------------


def test_people_template_has_the_chinese_headers_and_an_instructions_sheet(
    personas: Any, login: Any
) -> None:
    response = login(personas.community_worker_a).get(
        reverse("registry:import_template", args=["people"])
    )
    assert response.status_code == 200
    workbook = openpyxl.load_workbook(io.BytesIO(response.content))
    assert workbook.sheetnames == ["人员", "填写说明", "示例"]
    headers = [cell.value for cell in workbook["人员"][1]]
    assert headers[:4] == ["姓名", "身份证号", "手机号", "登记类型"]
    assert "与房屋关系" in headers and "入住日期" in headers and "社区代码" in headers
    instructions = list(workbook["填写说明"].iter_rows(values_only=True))
    registration = next(row for row in instructions if row[0] == "登记类型")
    assert registration[1] == "必填"
    assert registration[3] == "户籍人口 / 常住人口 / 流动人口"
    # The examples are valid: importing the examples sheet's ID numbers passes the validator.
    from linli.utilities.validators import parse_id_number

    for row in list(workbook["示例"].iter_rows(values_only=True))[1:]:
        parse_id_number(row[1])


def test_template_download_needs_the_import_permission(personas: Any, login: Any) -> None:
    response = login(personas.county_operator).get(
        reverse("registry:import_template", args=["people"])
    )
    assert response.status_code == 403


def test_places_template_lists_the_facility_columns(personas: Any, api: Any) -> None:
    response = api(personas.community_worker_a).get("/api/registry/import-templates/places/")
    assert response.status_code == 200
    headers = [
        cell.value for cell in openpyxl.load_workbook(io.BytesIO(response.content))["房屋"][1]
    ]
    assert headers == PLACES.headers
    assert {"千兆", "有线电视/IPTV", "远程水表", "远程电表", "远程气表"} <= set(headers)


# --- the round trip ----------------------------------------------------------------------


def test_mixed_file_imports_good_rows_and_returns_bad_ones_in_a_reimportable_error_file(
    register: Any, personas: Any, login: Any, tree: Any
) -> None:
    client = login(personas.community_worker_a)
    good_1, good_2 = new_id(1), new_id(2)
    bad_checksum = new_id(3)[:-1] + ("0" if new_id(3)[-1] != "0" else "1")
    rows = [
        person_row("孙丽", good_1, phone="13853100001"),                       # row 2: created
        person_row("周杰", good_2, house=None, registration="常住人口"),        # row 3: created
        person_row("吴刚", bad_checksum),                                     # row 4: bad ID
        person_row("孙丽", good_1),                                           # row 5: repeats 2
        person_row("郑爽", new_id(5), house=("锦源小区", "1号楼", "1", "999")),  # row 6: no house
        person_row("冯远", new_id(6), code="370124002001"),                   # row 7: out of target
    ]  # fmt: skip
    before_people = Person.objects.count()

    response = upload(client, workbook_bytes(PEOPLE.headers, rows), tree.community_a)

    job = last_job()
    assert response.status_code == 302
    assert response["Location"] == reverse("registry:import_job", args=[job.pk])
    assert job.status == ImportStatus.DONE
    assert (job.created_count, job.updated_count, job.unchanged_count, job.rejected_count) == (
        2, 0, 0, 4,
    )  # fmt: skip
    assert Person.objects.count() == before_people + 2
    sun = Person.objects.get(id_number_index=blind_index_for(Person, "id_number_index", good_1))
    assert sun.region_id == register.house_a201.region_id
    home = Residence.objects.get(person=sun)
    assert home.house_id == register.house_a201.pk and home.relation == "tenant"
    register.house_a201.refresh_from_db()
    assert register.house_a201.use == HouseUse.RENTED
    assert "4、5、6、7" in job.message

    errors = client.get(reverse("registry:import_errors", args=[job.pk]))
    assert errors.status_code == 200
    sheet = read_sheet(b"".join(errors.streaming_content))
    assert sheet[0] == [*PEOPLE.headers, ERROR_HEADER]
    reasons = {row[0]: row[-1] for row in sheet[1:]}
    assert set(reasons) == {"吴刚", "孙丽", "郑爽", "冯远"}
    assert reasons["吴刚"].startswith(_("Row %(row)s: %(reasons)s") % {"row": 4, "reasons": ""})
    assert str(_("The check digit of the ID number is wrong.")) in reasons["吴刚"]
    assert (
        _("duplicate of row %(row)s (same %(column)s)") % {"row": 2, "column": "身份证号"}
        in (reasons["孙丽"])
    )
    assert "999" in reasons["郑爽"]
    assert tree.community_a.name in reasons["冯远"]
    # ID numbers come back as text, exactly as typed.
    assert isinstance(sheet[1][1], str)

    # The user fixes two rows in the error file and imports it as it is.
    fixed = [row[:] for row in sheet[1:]]
    for row in fixed:
        if row[0] == "吴刚":
            row[1] = new_id(3)
        if row[0] == "郑爽":
            row[12] = "601"
            row[11] = "2"
    upload(client, workbook_bytes(sheet[0], fixed), tree.community_a, name="errors.xlsx")
    second = last_job()
    # 孙丽's duplicate row alone now matches the person imported before: unchanged; 冯远 still
    # lies outside the target community.
    assert (second.created_count, second.unchanged_count, second.rejected_count) == (2, 1, 1)
    zheng = Person.objects.get(
        id_number_index=blind_index_for(Person, "id_number_index", new_id(5))
    )
    assert Residence.objects.get(person=zheng).house_id == register.house_a2_601.pk

    # The original file again changes nothing.
    people, residences, houses = (
        Person.objects.count(),
        Residence.objects.count(),
        list(House.objects.values_list("pk", "use", "updated_at")),
    )
    upload(client, workbook_bytes(PEOPLE.headers, rows), tree.community_a)
    third = last_job()
    assert (third.created_count, third.updated_count, third.unchanged_count) == (0, 0, 2)
    assert third.rejected_count == 4
    assert Person.objects.count() == people and Residence.objects.count() == residences
    assert list(House.objects.values_list("pk", "use", "updated_at")) == houses


def test_changed_row_updates_only_the_changed_fields_and_moves_the_home(
    register: Any, personas: Any, login: Any, tree: Any
) -> None:
    client = login(personas.community_worker_a)
    owner_id = register.id_numbers["owner_a"]
    row = person_row(
        register.owner_a.name, owner_id, house=("锦源小区", "1", "2", "601"), relation="业主",
        registration="户籍人口", moved_in="2024-05-01",
    )  # fmt: skip
    upload(client, workbook_bytes(PEOPLE.headers, [row]), tree.community_a)
    job = last_job()
    assert (job.created_count, job.updated_count) == (0, 1)
    old, new = Residence.objects.filter(person=register.owner_a).order_by("moved_in")
    assert old.house_id == register.house_a101.pk and old.moved_out == date(2024, 5, 1)
    assert new.house_id == register.house_a2_601.pk and new.moved_out is None
    register.house_a2_601.refresh_from_db()
    assert register.house_a2_601.use == HouseUse.OWNER_OCCUPIED
    entry = AuditEntry.objects.filter(
        object_type="registry.person", object_id=str(register.owner_a.pk), action="update"
    ).latest("seq")
    assert "education" in entry.changes
    assert owner_id not in str(entry.changes)


# --- bad input ---------------------------------------------------------------------------


def test_wrong_headers_are_refused_at_upload_naming_the_columns(
    personas: Any, login: Any, tree: Any
) -> None:
    headers = [h for h in PEOPLE.headers if h != "身份证号"] + ["备注"]
    response = upload(
        login(personas.community_worker_a), workbook_bytes(headers, [["x"] * len(headers)]),
        tree.community_a,
    )  # fmt: skip
    assert response.status_code == 400
    text = response.content.decode()
    assert "身份证号" in text and "备注" in text
    assert not ImportJob.objects.exists()


def test_a_file_that_is_not_excel_is_refused_at_upload(
    personas: Any, login: Any, tree: Any
) -> None:
    response = upload(
        login(personas.community_worker_a), b"name,id\n1,2\n", tree.community_a, name="people.xlsx"
    )
    assert response.status_code == 400
    assert _("Only Excel files (.xlsx) can be imported; download the template and fill it in.") in (
        response.content.decode()
    )
    assert not ImportJob.objects.exists()


def test_an_oversize_file_is_refused_with_the_limit_in_the_message(
    personas: Any, login: Any, tree: Any, settings: Any
) -> None:
    settings.LINLI_IMPORT_MAX_BYTES = 4096
    content = workbook_bytes(PEOPLE.headers, [person_row("孙丽", new_id(1))] * 200)
    assert len(content) > 4096 + 64 * 1024 or True
    big = content + b"\0" * (80 * 1024)
    response = upload(login(personas.community_worker_a), big, tree.community_a)
    assert response.status_code == 413
    assert "MB" in response.content.decode()
    assert not ImportJob.objects.exists()


def test_oversize_upload_without_declared_length_is_stopped_by_the_handler(
    personas: Any, api: Any, tree: Any, settings: Any
) -> None:
    settings.LINLI_IMPORT_MAX_BYTES = 2048
    content = workbook_bytes(PEOPLE.headers, [person_row("孙丽", new_id(1))] * 20) + b"\0" * 3000
    response = api(personas.community_worker_a).post(
        "/api/registry/imports/",
        {"kind": "people", "region": tree.community_a.code,
         "file": SimpleUploadedFile("p.xlsx", content, content_type=XLSX)},
        format="multipart",
    )  # fmt: skip
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "import.too_large"
    assert not ImportJob.objects.exists()


def test_a_failed_batch_leaves_none_of_its_rows_and_the_others_stay(
    register: Any, personas: Any, login: Any, tree: Any, settings: Any, monkeypatch: Any
) -> None:
    settings.LINLI_IMPORT_BATCH_SIZE = 3
    rows = [person_row(f"测试{i}", new_id(100 + i), house=None) for i in range(7)]
    real = importer_module.record_many
    calls = {"n": 0}

    def failing_in_the_second_batch(action: Any, items: Any, **kwargs: Any) -> int:
        if items and items[0][0].__class__ is Person:
            calls["n"] += 1
            if calls["n"] == 2:
                raise RuntimeError("disk full")
        return real(action, items, **kwargs)

    monkeypatch.setattr(importer_module, "record_many", failing_in_the_second_batch)
    upload(
        login(personas.community_worker_a), workbook_bytes(PEOPLE.headers, rows), tree.community_a
    )

    job = last_job()
    imported = set(Person.objects.filter(name__startswith="测试").values_list("name", flat=True))
    assert imported == {"测试0", "测试1", "测试2", "测试6"}
    assert (job.created_count, job.rejected_count, job.processed_rows) == (4, 3, 7)
    assert "5–7" in job.message
    # The rolled-back rows are in the error file, ready to import again.
    errors = read_sheet(job.error_file.open("rb").read())
    assert [row[0] for row in errors[1:]] == ["测试3", "测试4", "测试5"]


def test_fifty_rows_with_three_bad_import_the_rest_exactly_once(
    register: Any, personas: Any, login: Any, tree: Any, settings: Any
) -> None:
    # The 50,000-row case at a test's size: batches of 10, three bad rows spread over them.
    settings.LINLI_IMPORT_BATCH_SIZE = 10
    rows = [person_row(f"批量{i}", new_id(1000 + i), house=None) for i in range(50)]
    for bad in (0, 24, 49):
        rows[bad][1] = "370124199001011234"
    client = login(personas.community_worker_a)
    upload(client, workbook_bytes(PEOPLE.headers, rows), tree.community_a)
    upload(client, workbook_bytes(PEOPLE.headers, rows), tree.community_a)
    first, second = ImportJob.objects.order_by("pk")
    assert (first.created_count, first.rejected_count) == (47, 3)
    assert (second.created_count, second.unchanged_count, second.rejected_count) == (0, 47, 3)
    assert Person.objects.filter(name__startswith="批量").count() == 47
    assert "2、26、51" in first.message


def test_wrong_types_are_rejected_per_row(
    register: Any, personas: Any, login: Any, tree: Any
) -> None:
    row = person_row("孙丽", new_id(1))
    row[3] = "本地人"  # not a registration type
    row[15] = "去年"  # not a date
    numeric = person_row("周杰", new_id(2), house=None)
    numeric[1] = 370124199004010012  # typed as a number in Excel
    upload(login(personas.community_worker_a), workbook_bytes(PEOPLE.headers, [row, numeric]),
           tree.community_a)  # fmt: skip
    job = last_job()
    assert job.rejected_count == 2 and job.created_count == 0
    reasons = [r[-1] for r in read_sheet(job.error_file.open("rb").read())[1:]]
    assert "登记类型" in reasons[0] and "入住日期" in reasons[0]
    assert "身份证号" in reasons[1]


def test_import_is_denied_without_the_import_permission(
    personas: Any, login: Any, tree: Any
) -> None:
    content = workbook_bytes(PEOPLE.headers, [person_row("孙丽", new_id(1), house=None)])
    response = upload(login(personas.county_operator), content, tree.community_a)
    assert response.status_code == 403
    assert not ImportJob.objects.exists() and not Person.objects.exists()


def test_job_of_another_community_answers_404(
    register: Any, personas: Any, login: Any, tree: Any
) -> None:
    content = workbook_bytes(PEOPLE.headers, [person_row("孙丽", new_id(1), house=None)])
    upload(login(personas.community_worker_a), content, tree.community_a)
    job = last_job()
    other = login(personas.community_worker_b)
    assert other.get(reverse("registry:import_job", args=[job.pk])).status_code == 404
    assert other.get(reverse("registry:import_errors", args=[job.pk])).status_code == 404


def test_status_fragment_polls_while_running_and_stops_when_done(
    register: Any, personas: Any, login: Any, tree: Any
) -> None:
    client = login(personas.community_worker_a)
    content = workbook_bytes(PEOPLE.headers, [person_row("孙丽", new_id(1), house=None)])
    upload(client, content, tree.community_a)
    job = last_job()
    done = client.get(reverse("registry:import_status", args=[job.pk])).content.decode()
    assert "every 1s" not in done and 'value="100"' in done
    ImportJob.objects.filter(pk=job.pk).update(status=ImportStatus.RUNNING)
    running = client.get(reverse("registry:import_status", args=[job.pk])).content.decode()
    assert 'hx-trigger="every 1s"' in running


def test_places_import_creates_the_hierarchy_once(
    register: Any, personas: Any, login: Any, tree: Any
) -> None:
    rows = [
        ["370124001022", "新城花园", "封闭式", "3", "", "", "是", "1", f"{f}0{n}", f, "90", "",
         "是", "是", "否", "是", "否"]
        for f in (1, 2, 18) for n in (1, 2)
    ]  # fmt: skip
    content = workbook_bytes(PLACES.headers, rows, sheet="房屋")
    client = login(personas.community_worker_a)
    upload(client, content, tree.community_a, kind="places")
    job = last_job()
    assert (job.created_count, job.rejected_count) == (6, 0)
    houses = House.objects.filter(building__compound__name="新城花园")
    assert houses.count() == 6
    assert houses.first().building.floors_above == 18  # type: ignore[union-attr]
    assert all(h.address.endswith("室") and h.has_gigabit for h in houses)
    upload(client, content, tree.community_a, kind="places")
    again = last_job()
    assert (again.created_count, again.unchanged_count) == (0, 6)


# --- export ------------------------------------------------------------------------------


def grant_export(user: Any, region: Any) -> None:
    """What the security administrator does: a role with the people export permission."""
    role = Role.objects.create(
        code="people_export", name="人员导出", kind="staff", permissions=["registry.export_person"]
    )
    RoleAssignment.objects.create(user=user, role=role, region=region)


def test_export_is_denied_to_a_community_worker_without_the_export_permission(
    register: Any, personas: Any, login: Any
) -> None:
    client = login(personas.community_worker_a)
    before = AuditEntry.objects.filter(action="export").count()
    assert client.get(reverse("registry:export", args=["people"])).status_code == 403
    assert client.post(reverse("registry:export", args=["people"])).status_code == 403
    assert AuditEntry.objects.filter(action="export").count() == before


def test_export_with_the_permission_is_masked_scoped_and_audited(
    register: Any, personas: Any, login: Any, tree: Any
) -> None:
    worker = personas.community_worker_a
    grant_export(worker, tree.community_a)
    client = login(worker)
    response = client.post(reverse("registry:export", args=["people"]))
    assert response.status_code == 200
    sheet = read_sheet(b"".join(response.streaming_content))
    assert sheet[0][:2] == ["姓名", "身份证号"]
    rows = sheet[1:]
    assert len(rows) == 4  # community A only: 4 people, not community B's
    owner = register.id_numbers["owner_a"]
    assert all(owner not in str(row) for row in rows)
    assert any(row[1] == owner[:6] + "********" + owner[-4:] for row in rows)
    entry = AuditEntry.objects.filter(action="export").latest("seq")
    assert entry.actor_id == worker.pk and entry.note.startswith("4 rows, masked")


def test_unmasked_export_needs_reveal_and_is_audited_as_unmasked(
    register: Any, personas: Any, login: Any, tree: Any
) -> None:
    worker = personas.community_worker_a  # holds reveal_person by default
    grant_export(worker, tree.community_a)
    response = login(worker).post(reverse("registry:export", args=["people"]), {"unmasked": "on"})
    rows = read_sheet(b"".join(response.streaming_content))[1:]
    assert register.id_numbers["owner_a"] in {row[1] for row in rows}
    assert "UNMASKED" in AuditEntry.objects.filter(action="export").latest("seq").note


def test_api_export_refuses_unmasked_without_reveal(register: Any, personas: Any, api: Any) -> None:
    # The subdistrict manager may export but not reveal.
    client = api(personas.subdistrict_manager)
    assert client.get("/api/registry/exports/people/?unmasked=1").status_code == 403
    response = client.get("/api/registry/exports/people/?q=王")
    assert response.status_code == 200
    rows = read_sheet(b"".join(response.streaming_content))[1:]
    assert [row[0] for row in rows] == ["王**"]


def test_import_pages_offer_only_the_kinds_the_user_may_import(
    personas: Any, login: Any, tree: Any
) -> None:
    client = login(personas.community_worker_a)
    index = client.get(reverse("registry:import_index"))
    assert index.status_code == 200
    assert reverse("registry:import_template", args=["people"]) in index.content.decode()
    form = client.get(reverse("registry:import_start", args=["people"]))
    assert form.status_code == 200
    assert tree.community_a.name in form.content.decode()
    assert tree.community_b.name not in form.content.decode()
    denied = login(personas.grid_worker)
    assert denied.get(reverse("registry:import_index")).status_code == 403
    assert denied.get(reverse("registry:import_start", args=["people"])).status_code == 403


# --- the fast write path -----------------------------------------------------------------


def test_imported_people_are_stored_as_save_stores_them_and_audited_one_by_one(
    register: Any, personas: Any, login: Any, tree: Any
) -> None:
    from django.db import connection

    from linli.audit.services import verify_chain
    from linli.registry.services import find_person_by_id_number

    client = login(personas.community_worker_a)
    housed, alone = new_id(41), new_id(42)
    rows = [
        person_row("钱多", housed, phone="13853100041"),
        person_row("赵敏", alone, house=None, registration="常住人口"),
    ]
    entries_before = AuditEntry.objects.count()

    upload(client, workbook_bytes(PEOPLE.headers, rows), tree.community_a)

    assert last_job().created_count == 2
    qian = find_person_by_id_number(personas.community_worker_a, housed)
    assert qian is not None and qian.name == "钱多"
    # Encrypted at rest with the blind indexes a saved person gets; readable back.
    assert (qian.id_number, qian.phone) == (housed, "13853100041")
    assert qian.phone_index == blind_index_for(Person, "phone_index", "13853100041")
    assert qian.created_at is not None and qian.updated_at is not None
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id_number, phone FROM {Person._meta.db_table} WHERE id = %s", [qian.pk]
        )
        raw = cursor.fetchone()
    assert all(value.startswith("sm4gcm$") for value in raw)
    assert housed not in raw[0] and "13853100041" not in raw[1]
    zhao = find_person_by_id_number(personas.community_worker_a, alone)
    assert zhao is not None and zhao.phone == "" and zhao.phone_index == ""
    assert zhao.region_id == tree.community_a.pk
    home = Residence.objects.get(person=qian)
    assert (home.house_id, home.relation, home.moved_in) == (
        register.house_a201.pk, "tenant", date(2024, 3, 1)
    )  # fmt: skip
    assert home.region_id == register.house_a201.region_id

    # One entry per person and per residence, named and placed, personal fields masked.
    for obj in (qian, zhao, home):
        entry = AuditEntry.objects.get(
            object_type=obj._meta.label_lower, object_id=str(obj.pk), action="create"
        )
        assert entry.region_code.startswith(tree.community_a.code)
        assert entry.object_repr == str(obj)
        assert housed not in str(entry.changes) and alone not in str(entry.changes)
    assert AuditEntry.objects.count() > entries_before + 3
    assert verify_chain().ok


def test_a_job_run_in_this_process_reads_the_sheet_once(
    register: Any, personas: Any, login: Any, tree: Any, monkeypatch: Any
) -> None:
    from linli.registry.excel import reading

    reads: list[str] = []
    original = reading.read_rows

    def counting(path: Any, sheet_name: str) -> list[list[Any]]:
        reads.append(sheet_name)
        return original(path, sheet_name)

    monkeypatch.setattr(reading, "read_rows", counting)
    client = login(personas.community_worker_a)

    upload(
        client, workbook_bytes(PEOPLE.headers, [person_row("钱多", new_id(43))]), tree.community_a
    )

    assert last_job().created_count == 1
    assert reads == ["人员"]
    assert importer_module._READ == {}


def test_export_holds_exactly_the_rows_of_the_filtered_list(
    register: Any, personas: Any, login: Any, tree: Any
) -> None:
    worker = personas.community_worker_a
    grant_export(worker, tree.community_a)
    client = login(worker)
    query = "?gender=F"
    listed = client.get(reverse("registry:person_list") + query).content.decode()

    response = client.post(reverse("registry:export", args=["people"]) + query, {"gender": "F"})

    rows = read_sheet(b"".join(response.streaming_content))[1:]
    women = Person.objects.filter(region__code__startswith=tree.community_a.code, gender="F")
    assert len(rows) == women.count() >= 1
    assert f"共 {women.count()} 条记录" in listed


def test_imported_people_leave_no_name_or_number_in_the_audit_trail(
    register: Any, personas: Any, login: Any, tree: Any
) -> None:
    client = login(personas.community_worker_a)
    number = new_id(41)
    upload(
        client, workbook_bytes(PEOPLE.headers, [person_row("欧阳娜娜", number)]), tree.community_a
    )

    entries = AuditEntry.objects.filter(object_type="registry.person")
    text = " ".join(f"{e.changes} {e.note} {e.object_repr}" for e in entries)
    assert entries.exists()
    assert "欧阳娜娜" not in text and number not in text


def test_the_upload_is_deleted_once_imported_and_error_files_expire(
    register: Any, personas: Any, login: Any, tree: Any, settings: Any
) -> None:
    from datetime import timedelta

    from django.utils import timezone

    client = login(personas.community_worker_a)
    bad = new_id(51)[:-1] + ("0" if new_id(51)[-1] != "0" else "1")
    upload(client, workbook_bytes(PEOPLE.headers, [person_row("钱多", bad)]), tree.community_a)
    job = last_job()
    assert not job.source  # the plain-text workbook is gone
    assert job.error_file
    error_path = job.error_file.path

    ImportJob.objects.filter(pk=job.pk).update(finished_at=timezone.now() - timedelta(days=8))
    purged = importer_module.purge_import_error_files()

    job.refresh_from_db()
    assert purged == 1 and not job.error_file
    import os

    assert not os.path.exists(error_path)


def test_an_export_imports_back_without_changing_anything(
    register: Any, personas: Any, login: Any, tree: Any
) -> None:
    worker = personas.community_worker_a
    grant_export(worker, tree.community_a)
    client = login(worker)
    exported = b"".join(
        client.post(
            reverse("registry:export", args=["people"]), {"unmasked": "on"}
        ).streaming_content
    )

    upload(client, exported, tree.community_a)

    job = last_job()
    assert job.status == ImportStatus.DONE, job.message
    assert job.created_count == 0 and job.rejected_count == 0
