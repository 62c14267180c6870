"""List pages build their repeated pieces in Python: the filter form's labels and select
options and the table cells come out exactly as Django's templates render them, but without a
template per option or per cell (those cost more than the page's queries at county scale)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import django_filters
import pytest
from django import forms
from django.http import QueryDict
from django.template.loader import render_to_string
from django.urls import reverse

from linli.registry import filters as f
from linli.registry.forms import BulkTagForm
from linli.registry.models import Person
from linli.registry.templatetags.registry_tags import (
    cell_html,
    field_html,
    label_tag_html,
    region_options,
)
from tests.registry.conftest import Register

pytestmark = pytest.mark.django_db

FILTERSETS = [
    cls
    for cls in vars(f).values()
    if isinstance(cls, type)
    and issubclass(cls, django_filters.FilterSet)
    and cls not in (django_filters.FilterSet, f.RegisterFilterSet)
]
PER_ITEM_TEMPLATES = {"django/forms/widgets/select_option.html", "registry/_cell.html"}


def _data(**values: str) -> QueryDict:
    data = QueryDict(mutable=True)
    for key, value in values.items():
        data[key] = value
    return data


@pytest.mark.parametrize("filterset", FILTERSETS, ids=lambda cls: cls.__name__)
@pytest.mark.parametrize(
    "values",
    [
        {},
        {"status": "retired", "registration_type": "floating", "gender": "F", "elderly": "true",
         "use": "rented", "relation": "tenant", "mode": "room", "kind": "merchant",
         "age_band": "60-79", "has_elevator": "false", "current": "true"},
        {"registration_type": "<script>", "tag": "nope", "elderly": "maybe", "floor": "x"},
    ],
    ids=["empty", "chosen", "invalid"],
)  # fmt: skip
def test_filter_fields_render_exactly_as_django_renders_them(
    filterset: Any, values: dict[str, str], default_tags: Any
) -> None:
    form = filterset(_data(**values), queryset=Person.objects.none()).form
    form.is_valid()
    for bound in form:
        assert field_html(bound) == str(bound), bound.name
        assert label_tag_html(bound) == bound.label_tag(), bound.name


def test_a_model_select_with_escaping_and_groups_renders_the_same(
    personas: Any, default_tags: Any
) -> None:
    class Grouped(forms.Form):
        pick = forms.ChoiceField(
            label="<b>组</b>",
            choices=[("", "—"), ("甲组", [("a", "A & B"), ("b", '"引号"')]), ("c", "<i>C</i>")],
            help_text="带说明",
        )

    bulk = BulkTagForm(_data(tag=str(default_tags["elderly_living_alone"].pk)), actor=None)  # type: ignore[arg-type]
    grouped = Grouped(_data(pick="b"))
    grouped.is_valid()
    for bound in (bulk["tag"], grouped["pick"]):
        assert field_html(bound) == str(bound)
        assert label_tag_html(bound) == bound.label_tag()
    assert "<i>" not in field_html(grouped["pick"]) and "&lt;i&gt;" in field_html(grouped["pick"])


@pytest.mark.parametrize(
    "cell",
    [
        {"text": "锦源小区1号楼", "url": "/registry/buildings/3/"},
        {"text": "<b>x</b> & y", "url": "/a?b=1&c=2"},
        {"text": "出租", "colour": "#d97706"},
        {"text": None, "url": None},
        {"text": "", "url": None},
        {"text": Decimal("89.50"), "url": None},
        {"text": date(2024, 3, 1), "url": None},
        {"text": 7, "url": None},
    ],
)
def test_a_table_cell_renders_as_the_cell_template(cell: dict[str, Any]) -> None:
    from django.template import Context

    expected = render_to_string("registry/_cell.html", {"cell": cell}).strip()
    assert cell_html(Context({"cell": cell}), cell) == expected


def test_region_options_escape_names(tree: Any) -> None:
    tree.community_a.name = "锦源<社区>"
    html = region_options([tree.community_a, tree.community_b])
    assert html == (
        f'<option value="{tree.community_a.code}">锦源&lt;社区&gt;</option>'
        f'<option value="{tree.community_b.code}">{tree.community_b.name}</option>'
    )


@pytest.mark.parametrize("kind", ["person", "house", "rental", "vehicle", "household"])
def test_list_pages_render_no_template_per_option_or_cell(
    login: Any, personas: Any, register: Register, default_tags: Any, kind: str
) -> None:
    response = login(personas.community_worker_a).get(reverse(f"registry:{kind}_list"))

    assert response.status_code == 200
    rendered = [template.name for template in response.templates]
    assert not PER_ITEM_TEMPLATES & set(rendered), rendered
    # The page, its layout and a handful of partials: not one template per row or option.
    assert len(rendered) < 25, rendered
    body = response.content.decode()
    assert "<select" in body and "</option>" in body
