from __future__ import annotations

import json
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from linli.regions.models import RegionNode

pytestmark = pytest.mark.django_db


def test_regions_load_ships_the_pingyin_slice_and_is_idempotent() -> None:
    out = StringIO()
    call_command("regions", "load", stdout=out)
    created = RegionNode.objects.count()
    assert created > 10
    assert RegionNode.objects.filter(code="370124", level="county").exists()
    call_command("regions", "load", stdout=out)
    assert RegionNode.objects.count() == created
    assert "0 regions created" in out.getvalue()


def test_regions_load_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "slice.json"
    path.write_text(
        json.dumps(
            {"nodes": [{"code": "37", "name": "山东省"}, {"code": "3701", "name": "济南市"}]}
        ),
        encoding="utf-8",
    )
    call_command("regions", "load", "--file", str(path), stdout=StringIO())
    assert RegionNode.objects.get(code="3701").parent.code == "37"


def test_regions_load_of_a_missing_file_is_a_clear_error(tmp_path: Any) -> None:
    with pytest.raises(CommandError, match="No such file"):
        call_command("regions", "load", "--file", str(tmp_path / "nope.json"))
    assert not RegionNode.objects.exists()
