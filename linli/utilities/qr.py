"""QR codes as SVG, made on the server from our own data (no image library needed)."""

from __future__ import annotations

from io import BytesIO

import qrcode
import qrcode.image.svg


def qr_svg(data: str, box_size: int = 8) -> str:
    image = qrcode.make(
        data, image_factory=qrcode.image.svg.SvgPathImage, box_size=box_size, border=2
    )
    buffer = BytesIO()
    image.save(buffer)
    svg = buffer.getvalue().decode()
    # Inline in a page: drop the XML declaration, which is only valid at a file's start.
    return svg[svg.index("<svg") :]
