"""Refusing an oversize upload before it is read: the declared length is checked first, and an
upload handler stops counting bytes past the limit (for bodies without a declared length), so a
200 MB file is neither held in memory nor written to disk."""

from __future__ import annotations

from typing import Any

from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.http import HttpRequest
from django.utils.http import parse_header_parameters

from linli.registry.excel.importer import max_upload_bytes

# Room for the multipart framing and the form's other fields.
_FORM_OVERHEAD = 64 * 1024
# How much of a refused body is read to find the small fields sent before the file.
_HEAD = 16 * 1024


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


def fields_before_file(request: HttpRequest, names: tuple[str, ...]) -> dict[str, str]:
    """The named plain fields of a multipart body refused for its declared size, read from the
    first few kilobytes only: browsers send the fields in the order of the form, the target
    region before the file, so the page can come back with the region still chosen."""
    kind, params = parse_header_parameters(request.META.get("CONTENT_TYPE", ""))
    boundary = params.get("boundary", "")
    if kind != "multipart/form-data" or not boundary:
        return {}
    head = request.read(_HEAD)
    found: dict[str, str] = {}
    # Every part but the last is complete: it is followed by the next boundary.
    for part in head.split(b"--" + boundary.encode("latin-1"))[1:-1]:
        headers, _blank, value = part.partition(b"\r\n\r\n")
        for line in headers.decode("latin-1").split("\r\n"):
            if not line.lower().startswith("content-disposition:"):
                continue
            _kind, disposition = parse_header_parameters(line.split(":", 1)[1])
            name = disposition.get("name", "")
            if name in names and "filename" not in disposition:
                found[name] = value.removesuffix(b"\r\n").decode("utf-8", "replace")
    return found
