"""Masking of personal data on screen and in exports (the default unless revealed)."""

from __future__ import annotations


def mask_id_number(value: str) -> str:
    """370102********1234: keep the region prefix and the last four characters."""
    if not value:
        return ""
    if len(value) <= 10:
        return "*" * len(value)
    return value[:6] + "*" * (len(value) - 10) + value[-4:]


def mask_phone(value: str) -> str:
    """138****5678."""
    if not value:
        return ""
    if len(value) < 7:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


def mask_name(value: str) -> str:
    """张*: only the first character is kept, whatever the length of the name."""
    if not value:
        return ""
    return value[0] + "*" * (len(value) - 1)


def mask_generic(value: str) -> str:
    if not value:
        return ""
    if len(value) <= 2:
        return "*" * len(value)
    return value[0] + "*" * (len(value) - 2) + value[-1]


MASKERS = {
    "id_number": mask_id_number,
    "phone": mask_phone,
    "name": mask_name,
    "generic": mask_generic,
}


def mask(kind: str, value: str) -> str:
    return MASKERS.get(kind, mask_generic)(value)
