"""Template filters of the register's pages: masking personal data on screen, pickers, and the
parts of the list pages that repeat (select options, table cells) built in Python.

A list page repeats a few small pieces hundreds of times: the options of the filter form's
selects (Django renders each option through its own template) and the cells of 50 rows (an
``{% include %}`` each). Rendered through templates they cost more than the page's queries;
built here in Python they produce the same HTML, escaped the same way, in a fraction of the
time (tests/registry/test_finishing_list_render.py compares both).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from django import template
from django.forms import BoundField
from django.template.base import render_value_in_context
from django.utils.html import conditional_escape, escape, format_html
from django.utils.safestring import SafeString, mark_safe

from linli.utilities.masking import mask_name

register = template.Library()

SELECT_TEMPLATE = "django/forms/widgets/select.html"
OPTION_TEMPLATE = "django/forms/widgets/select_option.html"
LABEL_TEMPLATE = "django/forms/label.html"


@register.filter(name="masked_name")
def masked_name(value: object) -> str:
    """张三 → 张*: names are masked on every page."""
    return mask_name(str(value or ""))


@register.filter(name="region_options")
def region_options(regions: Iterable[Any]) -> str:
    """The ``<option>`` list of a region datalist, built in one pass: a county operator's
    picker holds hundreds of regions, and a template loop over them cost more than the
    page's own queries."""
    options = (
        f'<option value="{escape(node.code)}">{escape(node.name)}</option>' for node in regions
    )
    return mark_safe("".join(options))  # noqa: S308 - every value is escaped above


def _attrs(attrs: Mapping[str, Any] | None) -> str:
    """As ``django/forms/attrs.html``: True → the bare name, False → left out."""
    if not attrs:
        return ""
    parts = []
    for name, value in attrs.items():
        if value is False:
            continue
        if value is True:
            parts.append(f" {escape(name)}")
        else:
            parts.append(f' {escape(name)}="{escape(str(value))}"')
    return "".join(parts)


class _PlainOnly(Exception):
    """An option with a template of its own: the select is rendered by Django as usual."""


def select_html(context: Mapping[str, Any]) -> str:
    """``django/forms/widgets/select.html`` for a widget's context, without a template per
    option (the form renderer strips the template's last newline, so this has none)."""
    widget = context["widget"]
    parts = [f'<select name="{escape(widget["name"])}"{_attrs(widget["attrs"])}>']
    for group_name, group_choices, _index in widget["optgroups"]:
        if group_name:
            parts.append(f'\n  <optgroup label="{escape(group_name)}">')
        for option in group_choices:
            if option.get("template_name", OPTION_TEMPLATE) != OPTION_TEMPLATE:
                raise _PlainOnly
            parts.append(
                f'\n  <option value="{escape(str(option["value"]))}"{_attrs(option["attrs"])}>'
                f"{conditional_escape(option['label'])}</option>\n"
            )
        if group_name:
            parts.append("\n  </optgroup>")
    parts.append("\n</select>")
    return "".join(parts)


def label_html(context: Mapping[str, Any]) -> str:
    """``django/forms/label.html`` for a label's context."""
    label = conditional_escape(context["label"])
    if not context.get("use_tag"):
        return label.strip()
    tag = escape(context["tag"])
    return f"<{tag}{_attrs(context.get('attrs'))}>{label}</{tag}>".strip()


class QuickRenderer:
    """A form renderer that builds the two templates a filter form repeats (its labels and
    plain selects) in Python and hands every other template to the form's own renderer."""

    def __init__(self, renderer: Any) -> None:
        self.renderer = renderer

    def render(self, template_name: str, context: dict[str, Any], request: Any = None) -> str:
        try:
            if template_name == SELECT_TEMPLATE:
                return select_html(context)
            if template_name == LABEL_TEMPLATE:
                return label_html(context)
        except _PlainOnly:
            pass
        return self.renderer.render(template_name, context, request=request)  # type: ignore[no-any-return]

    def __getattr__(self, name: str) -> Any:
        return getattr(self.renderer, name)


@contextmanager
def _quick(form: Any) -> Iterator[None]:
    renderer = form.renderer
    form.renderer = QuickRenderer(renderer)
    try:
        yield
    finally:
        form.renderer = renderer


@register.filter(name="field_html")
def field_html(field: BoundField) -> str:
    """``{{ field }}``, with a plain select built in Python (the same HTML)."""
    with _quick(field.form):
        return str(field)


@register.filter(name="label_tag_html")
def label_tag_html(field: BoundField) -> str:
    """``{{ field.label_tag }}``, built in Python (the same HTML)."""
    with _quick(field.form):
        return field.label_tag()


@register.simple_tag(takes_context=True)
def cell_html(context: template.Context, cell: Mapping[str, Any]) -> SafeString:
    """One cell of a register table ({text, url, colour}), as ``registry/_cell.html`` renders
    it: a colour dot, then the text as a link or plain ("—" for nothing)."""
    parts = []
    colour = cell.get("colour")
    if colour:
        parts.append(
            format_html(
                '<span class="use-dot" style="background:{}"></span>',
                render_value_in_context(colour, context),
            )
        )
    text = cell.get("text")
    url = cell.get("url")
    if url:
        parts.append(
            format_html(
                '<a href="{}">{}</a>',
                render_value_in_context(url, context),
                render_value_in_context(text, context),
            )
        )
    else:
        value = "—" if text is None else text
        parts.append(conditional_escape(render_value_in_context(value, context)))
    return mark_safe("".join(parts))  # noqa: S308 - every part is escaped above
