"""Streaming multipart/form-data: fields first, then the file part handed on as it arrives.

Starlette's form parser spools the whole file before the route runs; here the file's bytes go
to storage while they are received, so a size limit stops reading as soon as it is passed.
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header

from echo_scheduling.domain.errors import InvalidMaterial

#: Largest value of a text field.
MAX_FIELD_BYTES = 4096
#: Fields a client may send before the file.
MAX_FIELDS = 16


@dataclass(frozen=True)
class _Event:
    kind: str  # "part" | "data" | "end"
    headers: dict[str, str] | None = None
    data: bytes = b""


@dataclass
class FilePart:
    """The file part: its declared type and name, and its bytes as they arrive."""

    content_type: str | None
    filename: str
    chunks: AsyncIterator[bytes]


def _bad(message: str, field: str = "body") -> InvalidMaterial:
    return InvalidMaterial(message, field=field)


class MultipartStream:
    """Turns a request body stream into part events with python-multipart's push parser."""

    def __init__(self, body: AsyncIterator[bytes], content_type: str) -> None:
        kind, options = parse_options_header(content_type)
        boundary = options.get(b"boundary")
        if kind != b"multipart/form-data" or not boundary:
            raise _bad("body: send multipart/form-data with a boundary")
        self._body = body
        self._events: deque[_Event] = deque()
        self._field = b""
        self._value = b""
        self._headers: dict[str, str] = {}
        self._finished = False
        self._parser = MultipartParser(
            boundary,
            {
                "on_part_begin": self._begin,
                "on_header_field": self._header_field,
                "on_header_value": self._header_value,
                "on_header_end": self._header_end,
                "on_headers_finished": self._headers_done,
                "on_part_data": self._data,
                "on_part_end": self._end,
                "on_end": self._done,
            },
        )

    def _begin(self) -> None:
        self._headers = {}

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def _header_end(self) -> None:
        # Kept byte for byte (latin-1 maps each byte to one character): the option parser
        # works on those bytes, and a file name is then decoded as the UTF-8 browsers send.
        self._headers[self._field.decode("latin-1").lower()] = self._value.decode("latin-1")
        self._field = self._value = b""

    def _headers_done(self) -> None:
        self._events.append(_Event("part", headers=dict(self._headers)))

    def _data(self, data: bytes, start: int, end: int) -> None:
        self._events.append(_Event("data", data=bytes(data[start:end])))

    def _end(self) -> None:
        self._events.append(_Event("end"))

    def _done(self) -> None:
        self._finished = True

    async def events(self) -> AsyncIterator[_Event]:
        try:
            async for chunk in self._body:
                if chunk:
                    self._parser.write(chunk)
                while self._events:
                    yield self._events.popleft()
            self._parser.finalize()
        except FormParserError:  # the parser's own errors: a malformed body
            raise _bad("body: the multipart body is malformed") from None
        while self._events:
            yield self._events.popleft()
        if not self._finished:
            raise _bad("body: the multipart body ended before its closing boundary")


def _disposition(headers: dict[str, str]) -> tuple[str, str | None]:
    _, options = parse_options_header(headers.get("content-disposition", ""))
    name = options.get(b"name")
    if name is None:
        raise _bad("body: a part has no name in its Content-Disposition")
    filename = options.get(b"filename")
    return name.decode("utf-8", "replace"), (
        None if filename is None else filename.decode("utf-8", "replace")
    )


async def read_fields_then_file(
    body: AsyncIterator[bytes], content_type: str
) -> tuple[dict[str, str], FilePart | None]:
    """The text fields sent before the `file` part, and that part (streaming) if any.

    The file must be the last part: a part after it is refused (while storing, so what was
    stored is removed).
    """
    events = MultipartStream(body, content_type).events()
    fields: dict[str, str] = {}
    async for event in events:
        if event.kind != "part" or event.headers is None:
            continue
        name, filename = _disposition(event.headers)
        if filename is not None:
            if name != "file":
                raise _bad(f"{name}: the file goes in a part named `file`", field=name)
            return fields, FilePart(event.headers.get("content-type"), filename, _file_data(events))
        if len(fields) >= MAX_FIELDS:
            raise _bad("body: too many fields")
        value = bytearray()
        async for inner in events:
            if inner.kind == "end":
                break
            value.extend(inner.data)
            if len(value) > MAX_FIELD_BYTES:
                raise _bad(f"{name}: at most {MAX_FIELD_BYTES} bytes", field=name)
        try:
            fields[name] = value.decode("utf-8")
        except UnicodeDecodeError:
            raise _bad(f"{name}: not UTF-8 text", field=name) from None
    return fields, None


async def _file_data(events: AsyncIterator[_Event]) -> AsyncIterator[bytes]:
    async for event in events:
        if event.kind == "data":
            yield event.data
        elif event.kind == "end":
            break
    async for event in events:
        if event.kind == "part":
            raise _bad(
                "body: the file must be the last part; send title, kind, language and"
                " session_id before it"
            )
