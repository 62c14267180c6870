"""Refusing an oversize upload before it is read: the declared length is checked first, and an
upload handler stops counting bytes past the limit (for bodies without a declared length), so a
200 MB file is neither held in memory nor written to disk."""

from __future__ import annotations

from typing import Any

from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.http import HttpRequest

from linli.registry.excel.importer import max_upload_bytes

# Room for the multipart framing and the form's other fields.
_FORM_OVERHEAD = 64 * 1024


def declared_too_large(request: HttpRequest) -> int | None:
    """The declared body size when it is beyond the limit, else None."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return None
    return length if length > max_upload_bytes() + _FORM_OVERHEAD else None


class SizeLimitHandler(FileUploadHandler):
    """Counts the bytes of uploaded files and stops the upload once the limit is passed."""

    def __init__(self, request: Any = None) -> None:
        super().__init__(request)
        self.limit = max_upload_bytes()
        self.received = 0
        self.exceeded = False

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        self.received += len(raw_data)
        if self.received > self.limit:
            self.exceeded = True
            # connection_reset=False: Django drains the rest without storing it.
            raise StopUpload(connection_reset=False)
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None


def install(request: HttpRequest) -> SizeLimitHandler:
    handler = SizeLimitHandler(request)
    request.upload_handlers.insert(0, handler)
    return handler
