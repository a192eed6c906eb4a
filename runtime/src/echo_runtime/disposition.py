"""`Content-Disposition` for downloads of files with any name (RFC 6266 with RFC 5987)."""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

_UNSAFE = re.compile(r"[^A-Za-z0-9._() -]+")


def _ascii(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return _UNSAFE.sub("_", folded).strip(" ._")


def ascii_fallback(filename: str, default: str = "download") -> str:
    """An ASCII name for clients that ignore `filename*`: accents dropped, the rest `_`."""
    stem, dot, extension = filename.rpartition(".")
    if not dot:
        stem, extension = filename, ""
    stem, extension = _ascii(stem)[:120] or default, _ascii(extension)[:20]
    return f"{stem}.{extension}" if extension else stem


def content_disposition(disposition: str, filename: str) -> str:
    """`attachment; filename="ascii"; filename*=UTF-8''percent-encoded` for any Unicode name."""
    return (
        f'{disposition}; filename="{ascii_fallback(filename)}";'
        f" filename*=UTF-8''{quote(filename, safe='')}"
    )
