"""Template filters of the register's pages: masking personal data on screen, pickers."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django import template
from django.utils.html import format_html_join

from linli.utilities.masking import mask_name

register = template.Library()


@register.filter(name="masked_name")
def masked_name(value: object) -> str:
    """张三 → 张*: names are masked on every page."""
    return mask_name(str(value or ""))


@register.filter(name="region_options")
def region_options(regions: Iterable[Any]) -> str:
    """The ``<option>`` list of a region datalist, built in one pass: a county operator's
    picker holds hundreds of regions, and a template loop over them cost more than the
    page's own queries."""
    return format_html_join(
        "", '<option value="{}">{}</option>', ((node.code, node.name) for node in regions)
    )
