"""Form widgets of the audit pages (the search form itself is the filter set's)."""

from __future__ import annotations

from typing import Any

from django import forms


class DateTimeLocalInput(forms.DateTimeInput):
    """The browser's own date-time picker; Django parses its ISO 8601 value."""

    input_type = "datetime-local"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs=attrs, format="%Y-%m-%dT%H:%M")
