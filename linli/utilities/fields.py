"""Model fields for personal data: SM4-GCM encrypted text and its HMAC-SM3 blind index.

``EncryptedCharField`` stores only ciphertext; the database never sees the plaintext.
``BlindIndexField(source="phone", normalizer=...)`` stores a keyed hash of the normalised
plaintext so exact-match search works without decrypting every row.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import models
from django.db.models.lookups import Exact

from linli.utilities import crypto


class EncryptedCharField(models.TextField):  # type: ignore[type-arg]
    """Personal data encrypted at rest with SM4-GCM; reads return plaintext, writes encrypt."""

    description = "SM4-GCM encrypted text"
    personal = True

    def __init__(self, *args: Any, max_plain_length: int = 255, **kwargs: Any) -> None:
        self.max_plain_length = max_plain_length
        kwargs.setdefault("blank", True)
        kwargs.setdefault("default", "")
        super().__init__(*args, **kwargs)

    def deconstruct(self) -> Any:
        name, path, args, kwargs = super().deconstruct()
        if self.max_plain_length != 255:
            kwargs["max_plain_length"] = self.max_plain_length
        return name, path, args, kwargs

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> str | None:
        if value is None or value == "":
            return value
        return crypto.sm4_decrypt(value)

    def to_python(self, value: Any) -> Any:
        return value

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return crypto.sm4_encrypt(str(value))

    def get_lookup(self, lookup_name: str) -> Any:
        # Ciphertexts are randomised: any lookup but isnull would silently match nothing.
        if lookup_name not in {"isnull", "exact"}:
            raise NotImplementedError(
                f"{self.name}: encrypted fields support no '{lookup_name}' lookup; "
                "search through the blind index instead"
            )
        return super().get_lookup(lookup_name)


class _EmptyOnlyExact(Exact):
    """``phone=""`` works (empty is stored as empty); any other value would be compared with
    a randomised ciphertext and silently match nothing, so it is refused."""

    def get_prep_lookup(self) -> Any:
        if self.rhs not in ("", None):
            raise NotImplementedError(
                f"{self.lhs.target.name}: search encrypted fields through their blind index"
            )
        return super().get_prep_lookup()


EncryptedCharField.register_lookup(_EmptyOnlyExact)


class BlindIndexField(models.CharField):  # type: ignore[type-arg]
    """HMAC-SM3 of another field's normalised plaintext, filled on every save."""

    description = "HMAC-SM3 blind index"

    def __init__(
        self,
        *args: Any,
        source: str = "",
        normalizer: Callable[[str], str] | None = None,
        **kwargs: Any,
    ) -> None:
        self.source = source
        self.normalizer = normalizer
        kwargs.setdefault("max_length", 64)
        kwargs.setdefault("blank", True)
        kwargs.setdefault("default", "")
        kwargs.setdefault("editable", False)
        kwargs.setdefault("db_index", True)
        super().__init__(*args, **kwargs)

    def deconstruct(self) -> Any:
        name, path, args, kwargs = super().deconstruct()
        kwargs["source"] = self.source
        for key in ("max_length", "blank", "default", "editable"):
            kwargs.pop(key, None)
        # db_index=False stays: a model that indexes the column through Meta.indexes (no
        # PostgreSQL varchar_pattern_ops twin, as no blind index is ever searched with LIKE).
        if not kwargs.pop("db_index", False):
            kwargs["db_index"] = False
        return name, path, args, kwargs

    def purpose(self) -> str:
        return f"{self.model._meta.label_lower}.{self.source}"

    def index_for(self, plaintext: str) -> str:
        value = self.normalizer(plaintext) if self.normalizer else plaintext.strip()
        return crypto.blind_index(self.purpose(), value) if value else ""

    def pre_save(self, model_instance: models.Model, add: bool) -> str:
        plaintext = getattr(model_instance, self.source) or ""
        value = self.index_for(plaintext)
        setattr(model_instance, self.attname, value)
        return value


class PersonalCharField(models.CharField):  # type: ignore[type-arg]
    """Plain, searchable text that is still personal data (a resident's name): masked on
    screen by default and masked in history and audit entries."""

    personal = True


def blind_index_for(model: type[models.Model], field_name: str, plaintext: str) -> str:
    """The index value to filter by: ``Person.objects.filter(phone_index=blind_index_for(...))``."""
    field = model._meta.get_field(field_name)
    if not isinstance(field, BlindIndexField):
        raise TypeError(f"{model.__name__}.{field_name} is not a blind index")
    return field.index_for(plaintext)


def personal_field_names(model: type[models.Model]) -> set[str]:
    """Fields whose values are masked in history and audit entries."""
    return {
        field.name
        for field in model._meta.get_fields()
        if isinstance(field, EncryptedCharField | BlindIndexField)
        or getattr(field, "personal", False)
    }
