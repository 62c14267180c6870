"""The importer at scale and at the edges of the worker's area: house use kept true across
batches from in-memory counts, ID numbers registered outside the area (refused without saying
where, the attempt audited), and vehicle owners looked up a batch at a time."""

from __future__ import annotations

import gc
import random
from datetime import date
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils.translation import gettext as _

from linli.audit.models import AuditEntry
from linli.registry import services
from linli.registry.choices import HouseUse
from linli.registry.excel import importer as importer_module
from linli.registry.excel.columns import PEOPLE, VEHICLES
from linli.registry.models import House, ImportJob, Person, Residence, Vehicle
from linli.registry.services import REGISTERED_ELSEWHERE, REGISTERED_ELSEWHERE_NOTE
from linli.utilities.synthetic import make_id_number
from tests.conftest import Tree
from tests.registry.conftest import Register
from tests.registry.test_excel import last_job, person_row, read_sheet, upload, workbook_bytes
from tests.registry.test_rules_shared import run_import, sheet_row

ELSEWHERE = (
    "this ID number is already in the register outside your area; to move the person into "
    "your area, ask the county operator (the attempt is recorded)"
)


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


def new_id(seed: int, born: date = date(1988, 2, 3)) -> str:
    return make_id_number(random.Random(f"more{seed}"), "370124", born)


def uses(*houses: House) -> list[str]:
    for house in houses:
        house.refresh_from_db()
    return [house.use for house in houses]


# --- house use across batches ------------------------------------------------------------


def test_house_uses_stay_true_across_batches_as_people_move_in_and_out(
    register: Register, personas: Any, tree: Tree, settings: Any
) -> None:
    # Batches of two rows, so the houses are touched again by later batches: the in-memory
    # counts of their residents must follow each change.
    settings.LINLI_IMPORT_BATCH_SIZE = 2
    ids = register.id_numbers
    a101, a102, a201, a601 = (
        register.house_a101,
        register.house_a102,
        register.house_a201,
        register.house_a2_601,
    )
    rows = [
        # batch 1: a tenant into the vacant 201; a new owner into 601
        person_row("新租户", new_id(1), house=("锦源小区", "1号楼", "1", "201")),
        person_row("新业主", new_id(2), house=("锦源小区", "1号楼", "2", "601"), relation="业主"),
        # batch 2: the owner of 101 moves out to 201 (still his spouse in 101)
        person_row(
            "王建国",
            ids["owner_a"],
            house=("锦源小区", "1号楼", "1", "201"),
            relation="家庭成员",
            registration="户籍人口",
            moved_in="2024-06-01",
        ),
        # ... and the tenant of 102 moves to 601 as a family member of its new owner
        person_row(
            "刘洋",
            ids["tenant_a"],
            house=("锦源小区", "1号楼", "2", "601"),
            relation="家庭成员",
            moved_in="2024-06-01",
        ),
        # batch 3: the spouse leaves 101 too; the new tenant of 201 (batch 1) becomes its owner
        person_row(
            "李秀英",
            ids["spouse_a"],
            house=("锦源小区", "1号楼", "1", "201"),
            relation="家庭成员",
            registration="户籍人口",
            moved_in="2024-07-01",
        ),
        person_row("新租户", new_id(1), house=("锦源小区", "1号楼", "1", "201"), relation="业主"),
    ]
    assert uses(a101, a102, a201, a601) == ["owner_occupied", "rented", "vacant", "vacant"]

    job = run_import(personas.community_worker_a, "people", PEOPLE, rows, tree.community_a)

    assert (job.created_count, job.updated_count, job.rejected_count) == (2, 3, 1), job.message
    # Row 7 repeats the ID number of row 2: one row per person and file.
    assert uses(a101, a102, a201, a601) == ["vacant", "vacant", "rented", "owner_occupied"]
    for house in (a101, a102, a201, a601):
        assert house.use == services.derived_house_use(house)


def test_a_house_whose_use_was_set_by_hand_keeps_it_through_an_import(
    register: Register, personas: Any, tree: Tree
) -> None:
    worker = personas.community_worker_a
    services.set_house_use(worker, register.house_a201, HouseUse.COMMERCIAL)
    rows = [person_row("店员", new_id(3), house=("锦源小区", "1号楼", "1", "201"))]
    run_import(worker, "people", PEOPLE, rows, tree.community_a)
    assert uses(register.house_a201) == [HouseUse.COMMERCIAL]
    assert Residence.objects.filter(house=register.house_a201).count() == 1


def test_a_failed_batch_leaves_the_uses_of_its_houses_as_stored(
    register: Register, personas: Any, tree: Tree, settings: Any, monkeypatch: Any
) -> None:
    settings.LINLI_IMPORT_BATCH_SIZE = 1
    real = importer_module.record_many
    calls = {"n": 0}

    def failing_in_the_second_batch(action: Any, items: Any, **kwargs: Any) -> int:
        if items and items[0][0].__class__ is Person:
            calls["n"] += 1
            if calls["n"] == 2:
                raise RuntimeError("disk full")
        return real(action, items, **kwargs)

    monkeypatch.setattr(importer_module, "record_many", failing_in_the_second_batch)
    house = ("锦源小区", "1号楼", "1", "201")
    rows = [
        person_row("甲", new_id(4), house=house, relation="业主"),  # batch 1: owner-occupied
        person_row("乙", new_id(5), house=house, relation="租户"),  # batch 2: fails
        person_row("丙", new_id(6), house=house, relation="家庭成员"),  # batch 3
    ]
    job = run_import(personas.community_worker_a, "people", PEOPLE, rows, tree.community_a)

    assert (job.created_count, job.rejected_count) == (2, 1)
    # The tenant of the failed batch never arrived: the house is owner-occupied, not rented.
    assert uses(register.house_a201) == [HouseUse.OWNER_OCCUPIED]
    assert services.derived_house_use(register.house_a201) == HouseUse.OWNER_OCCUPIED


# --- ID numbers registered outside the worker's area -------------------------------------


def test_id_number_registered_elsewhere_is_refused_without_saying_where_and_audited_once(
    register: Register, personas: Any, login: Any, tree: Tree
) -> None:
    # Given person_b (赵刚) registered in community B, and one retired there too
    worker_b = personas.community_worker_b
    retired_b = services.create_person(
        worker_b, region=tree.community_b, name="钱退休", id_number=new_id(7)
    )
    services.retire_record(worker_b, retired_b)
    number_b = register.id_numbers["person_b"]
    rows = [
        person_row("本辖区", new_id(8)),  # row 2: created
        person_row("赵某", number_b),  # row 3: registered in community B
        person_row("钱某", new_id(7), house=None),  # row 4: retired in community B
    ]
    # When community A's worker imports them
    client = login(personas.community_worker_a)
    upload(client, workbook_bytes(PEOPLE.headers, rows), tree.community_a)

    # Then both rows are refused with the same message, which says nothing about where or whom
    job = last_job()
    assert (job.created_count, job.rejected_count) == (1, 2)
    errors = read_sheet(job.error_file.open("rb").read())
    reasons = {row[0]: row[-1] for row in errors[1:]}
    assert set(reasons) == {"赵某", "钱某"}
    for reason in reasons.values():
        assert _(ELSEWHERE) in reason
        assert "retired" not in reason and _("this person is retired in the register") not in (
            reason
        )
    # The error file holds what the worker typed and nothing of the other record.
    text = " ".join(str(cell) for row in errors for cell in row if cell is not None)
    for leak in ("赵刚", "钱退休", tree.community_b.name, tree.community_b.code, "锦东小区"):
        assert leak not in text
    assert tree.community_b.name not in job.message
    # Nobody in community B changed.
    register.person_b.refresh_from_db()
    assert register.person_b.name == "赵刚"
    assert register.person_b.region_id == register.house_b101.region_id
    # And the attempt is recorded on each record it tried to register again, in that record's
    # region (its community and the auditors see it): the job and rows, never the numbers.
    entries = AuditEntry.objects.filter(action=REGISTERED_ELSEWHERE)
    assert {(e.object_type, e.object_id) for e in entries} == {
        ("registry.person", str(register.person_b.pk)),
        ("registry.person", str(retired_b.pk)),
    }
    for entry in entries:
        assert entry.actor_id == personas.community_worker_a.pk
        assert entry.region_code == tree.community_b.code
        assert entry.note.startswith(REGISTERED_ELSEWHERE_NOTE)
        assert f"import job {job.pk}" in entry.note
        assert "2 rows" in entry.note and "rows 3, 4" in entry.note
        recorded = f"{entry.note} {entry.changes}"
        for leak in (number_b, new_id(7), "赵", "钱"):
            assert leak not in recorded


def test_the_elsewhere_attempt_stays_recorded_when_its_batch_rolls_back(
    register: Register, personas: Any, tree: Tree, settings: Any, monkeypatch: Any
) -> None:
    settings.LINLI_IMPORT_BATCH_SIZE = 2
    real = importer_module.record_many

    def failing(action: Any, items: Any, **kwargs: Any) -> int:
        if items and items[0][0].__class__ is Person and action != REGISTERED_ELSEWHERE:
            raise RuntimeError("disk full")
        return real(action, items, **kwargs)

    monkeypatch.setattr(importer_module, "record_many", failing)
    rows = [
        person_row("本辖区", new_id(9), house=None),
        person_row("赵某", register.id_numbers["person_b"], house=None),
    ]
    job = run_import(personas.community_worker_a, "people", PEOPLE, rows, tree.community_a)

    assert (job.created_count, job.rejected_count) == (0, 2)
    assert not Person.objects.filter(name="本辖区").exists()
    entry = AuditEntry.objects.get(action=REGISTERED_ELSEWHERE)
    assert entry.object_id == str(register.person_b.pk)
    assert f"import job {job.pk}" in entry.note and "rows 3" in entry.note


def test_an_import_without_rows_registered_elsewhere_records_no_such_attempt(
    register: Register, personas: Any, tree: Tree
) -> None:
    rows = [person_row("本辖区", new_id(10), house=None)]
    run_import(personas.community_worker_a, "people", PEOPLE, rows, tree.community_a)
    assert not AuditEntry.objects.filter(action=REGISTERED_ELSEWHERE).exists()


# --- vehicles ----------------------------------------------------------------------------


def vehicle_rows(owners: list[str], tree: Tree) -> list[list[Any]]:
    return [
        sheet_row(
            VEHICLES,
            plate=f"鲁A{n:05d}",
            community_code=tree.community_a.code,
            compound="锦源小区",
            owner_id_number=number,
            description="白色轿车",
        )
        for n, number in enumerate(owners)
    ]


def test_vehicle_owners_are_looked_up_with_one_query_per_batch(
    register: Register, personas: Any, tree: Tree
) -> None:
    worker = personas.community_worker_a
    numbers = [new_id(100 + n, date(1970 + n % 30, 1 + n % 12, 1 + n % 28)) for n in range(40)]
    people = [person_row(f"车主{n}", number, house=None) for n, number in enumerate(numbers)]
    run_import(worker, "people", PEOPLE, people, tree.community_a)
    owners = dict(Person.objects.filter(name__startswith="车主").values_list("name", "pk"))
    assert len(owners) == 40

    def queries_for(rows: list[list[Any]]) -> tuple[int, int]:
        with CaptureQueriesContext(connection) as captured:
            job = run_import(worker, "vehicles", VEHICLES, rows, tree.community_a)
        assert job.created_count == len(rows), job.message
        lookups = [q for q in captured.captured_queries if "id_number_index" in q["sql"]]
        return len(captured.captured_queries), len(lookups)

    few = queries_for(vehicle_rows(numbers[:3], tree))
    Vehicle.objects.all().delete()
    many = queries_for(vehicle_rows(numbers, tree))

    # One owner lookup for the batch, and no more queries for 40 rows than for 3.
    assert many[1] == few[1] == 1
    assert many[0] == few[0]
    plates = dict(Vehicle.objects.values_list("plate", "owner_id"))
    assert plates["鲁A00000"] == owners["车主0"] and plates["鲁A00039"] == owners["车主39"]


def test_vehicle_owner_outside_the_area_or_unknown_is_refused_per_row(
    register: Register, personas: Any, tree: Tree
) -> None:
    rows = vehicle_rows(
        [register.id_numbers["owner_a"], register.id_numbers["person_b"], new_id(11)], tree
    )
    job = run_import(personas.community_worker_a, "vehicles", VEHICLES, rows, tree.community_a)
    assert (job.created_count, job.rejected_count) == (1, 2)
    assert Vehicle.objects.get().owner_id == register.owner_a.pk
    errors = read_sheet(job.error_file.open("rb").read())
    refused = _("the owner is not in the register; import the person first")
    assert all(refused in row[-1] for row in errors[1:])
    assert ImportJob.objects.filter(kind="vehicles").count() == 1


# --- bulk work ---------------------------------------------------------------------------


def test_the_same_bad_cell_on_many_rows_is_refused_on_each_with_its_reason(
    register: Register, personas: Any, tree: Tree
) -> None:
    # Cells are parsed once per distinct value: a remembered bad value is refused every time.
    rows = [
        person_row(f"重复{n}", new_id(200 + n), registration="暂住人口", moved_in="2024-13-01")
        for n in range(3)
    ]
    rows.append(person_row("正常", new_id(210)))
    job = run_import(personas.community_worker_a, "people", PEOPLE, rows, tree.community_a)

    assert (job.created_count, job.rejected_count) == (1, 3)
    errors = read_sheet(job.error_file.open("rb").read())
    for row in errors[1:]:
        assert "登记类型" in row[-1] and "入住日期" in row[-1]


def test_postgresql_tables_grown_by_the_job_get_fresh_statistics(
    register: Register, personas: Any, tree: Tree, settings: Any, monkeypatch: Any
) -> None:
    # Scaled down: statistics refreshed once the job has added as many people as they knew of.
    settings.LINLI_IMPORT_BATCH_SIZE = 2
    monkeypatch.setattr(importer_module.TableStatistics, "FIRST", 2)
    rows = [person_row(f"统计{n}", new_id(300 + n), house=None) for n in range(6)]
    with CaptureQueriesContext(connection) as captured:
        run_import(personas.community_worker_a, "people", PEOPLE, rows, tree.community_a)
    analyses = [q["sql"] for q in captured.captured_queries if q["sql"].startswith("ANALYZE")]
    if connection.vendor == "postgresql":
        assert analyses and all("registry_person" in sql for sql in analyses)
    else:
        assert analyses == []  # SQLite plans by its indexes whatever the table's size


def test_an_import_leaves_the_connection_settings_as_it_found_them(
    register: Register, personas: Any, tree: Tree
) -> None:
    def settings_now() -> list[Any]:
        if connection.vendor != "sqlite":
            return []
        with connection.cursor() as cursor:
            values = []
            for name in ("cache_size", "wal_autocheckpoint"):
                cursor.execute(f"PRAGMA {name}")
                values.append(cursor.fetchone()[0])
        return values

    before = settings_now()
    rows = [person_row("设置", new_id(400), house=None)]
    run_import(personas.community_worker_a, "people", PEOPLE, rows, tree.community_a)
    assert settings_now() == before
    assert gc.get_freeze_count() == 0  # nothing is left out of the collector
