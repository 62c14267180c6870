"""Photos and files attached to events: checked before anything is stored.

A photo must be an image Pillow can read in a common format; every file has a size limit
(``LINLI_EVENT_UPLOAD_MAX_MB``, 10 MB by default). Files are stored under a name made of their
SHA-256, never the uploader's file name.
"""

from __future__ import annotations

import hashlib
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.utils.translation import gettext as _

from linli.core.errors import ServiceError
from linli.events.choices import AttachmentKind

PHOTO_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "GIF": "image/gif"}
FILE_SUFFIXES = {
    ".pdf": "application/pdf",
    ".doc": "application/msword",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".xls": "application/vnd.ms-excel",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".txt": "text/plain",
    ".mp3": "audio/mpeg",
    ".amr": "audio/amr",
    ".mp4": "video/mp4",
}
MAX_FILES = 9


def max_bytes() -> int:
    return int(getattr(settings, "LINLI_EVENT_UPLOAD_MAX_MB", 10)) * 1024 * 1024


class Checked:
    """An upload that passed the checks, ready to be stored."""

    def __init__(self, name: str, content: bytes, content_type: str, kind: str) -> None:
        self.name = name
        self.content = content
        self.content_type = content_type
        self.kind = kind
        self.sha256 = hashlib.sha256(content).hexdigest()

    def as_file(self) -> ContentFile[bytes]:
        return ContentFile(self.content, name=self.name)


def check_upload(upload: Any, kind: str = AttachmentKind.PHOTO) -> Checked:
    """Read and check one upload (a Django ``UploadedFile`` or anything with ``name``, ``size``
    and ``read``). Raises ``ServiceError`` with the file's name in the message."""
    name = str(getattr(upload, "name", "") or "upload")[-200:]
    limit = max_bytes()
    size = getattr(upload, "size", None)
    if size is not None and size > limit:
        raise ServiceError(
            "attachment_too_large",
            _("%(name)s is larger than %(limit)d MB.") % {"name": name, "limit": limit // 2**20},
        )
    content = upload.read(limit + 1)
    if len(content) > limit:
        raise ServiceError(
            "attachment_too_large",
            _("%(name)s is larger than %(limit)d MB.") % {"name": name, "limit": limit // 2**20},
        )
    if not content:
        raise ServiceError("attachment_empty", _("%(name)s is empty.") % {"name": name})
    if kind == AttachmentKind.PHOTO:
        return Checked(name, content, _image_type(name, content), kind)
    suffix = name[name.rfind(".") :].lower() if "." in name else ""
    if suffix in {".jpg", ".jpeg", ".png", ".webp", ".gif"}:
        return Checked(name, content, _image_type(name, content), AttachmentKind.PHOTO)
    if suffix not in FILE_SUFFIXES:
        raise ServiceError(
            "attachment_type",
            _("%(name)s: this kind of file is not accepted (photos, PDF, Word, Excel, audio).")
            % {"name": name},
        )
    return Checked(name, content, FILE_SUFFIXES[suffix], kind)


def _image_type(name: str, content: bytes) -> str:
    from io import BytesIO

    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(BytesIO(content)) as image:
            image_format = image.format or ""
            image.verify()
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise ServiceError(
            "attachment_not_image", _("%(name)s is not a picture.") % {"name": name}
        ) from exc
    if image_format not in PHOTO_FORMATS:
        raise ServiceError(
            "attachment_not_image",
            _("%(name)s is not a JPEG, PNG, WebP or GIF picture.") % {"name": name},
        )
    return PHOTO_FORMATS[image_format]


def check_all(uploads: list[Any], kind: str = AttachmentKind.PHOTO) -> list[Checked]:
    if len(uploads) > MAX_FILES:
        raise ServiceError(
            "attachment_count", _("At most %(count)d files at once.") % {"count": MAX_FILES}
        )
    return [check_upload(upload, kind) for upload in uploads]
