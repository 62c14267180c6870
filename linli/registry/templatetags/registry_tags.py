"""Template filters of the register's pages: masking personal data on screen."""

from __future__ import annotations

from django import template

from linli.utilities.masking import mask_name

register = template.Library()


@register.filter(name="masked_name")
def masked_name(value: object) -> str:
    """张三 → 张*: names are masked on every page."""
    return mask_name(str(value or ""))
