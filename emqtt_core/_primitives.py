"""Wire data types of MQTT (section 1.5): integers, strings, binary data.

Private helpers of the codec. Readers take ``(buf, pos, end)`` and return the
value with the position after it; they raise
:class:`~emqtt_core.exceptions.MalformedPacket` when the value does not fit in
``buf[pos:end]`` or is not well formed. Writers return ``bytes`` and raise
:class:`~emqtt_core.exceptions.UsageError` for values the protocol cannot carry.
"""

from __future__ import annotations

from struct import Struct
from typing import Final

from .exceptions import MalformedPacket, UsageError

Buffer = bytes | bytearray
"""What the readers read from."""

MAX_VARIABLE_BYTE_INTEGER: Final = 268_435_455
"""Largest value of a four-byte variable byte integer [MQTT-1.5.5]."""

MAX_TWO_BYTE: Final = 0xFFFF
"""Largest length of a string or of binary data, and largest two-byte integer."""

UINT16: Final = Struct(">H")
UINT32: Final = Struct(">I")

BYTES: Final = tuple(bytes((value,)) for value in range(256))
"""``BYTES[n] == bytes((n,))``, without building a new object each time."""


def read_variable_byte_integer(buf: Buffer, pos: int, end: int) -> tuple[int, int]:
    """Read a variable byte integer of at most four bytes [MQTT-1.5.5-1]."""
    value = 0
    shift = 0
    for index in range(pos, min(end, pos + 4)):
        byte = buf[index]
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            if byte == 0 and index > pos:
                # [MQTT-1.5.5-1] the encoded value uses the fewest bytes possible.
                raise MalformedPacket("variable byte integer not in its shortest form")
            return value, index + 1
        shift += 7
    if end - pos >= 4:
        raise MalformedPacket("variable byte integer longer than four bytes")
    raise MalformedPacket("truncated variable byte integer")


def variable_byte_integer(value: int) -> bytes:
    """Encode ``value`` (0 to 268,435,455) as a variable byte integer."""
    if 0 <= value < 0x80:
        return BYTES[value]
    if 0 < value < 0x4000:
        return bytes((value & 0x7F | 0x80, value >> 7))
    if not 0 <= value <= MAX_VARIABLE_BYTE_INTEGER:
        raise UsageError(f"{value} does not fit in a variable byte integer")
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def read_uint16(buf: Buffer, pos: int, end: int) -> tuple[int, int]:
    """Read a two-byte big-endian integer."""
    if pos + 2 > end:
        raise MalformedPacket("truncated two-byte integer")
    return (buf[pos] << 8) | buf[pos + 1], pos + 2


def read_binary(buf: Buffer, pos: int, end: int) -> tuple[bytes, int]:
    """Read binary data: a two-byte length and that many bytes."""
    if pos + 2 > end:
        raise MalformedPacket("truncated binary data length")
    stop = pos + 2 + ((buf[pos] << 8) | buf[pos + 1])
    if stop > end:
        raise MalformedPacket("truncated binary data")
    return bytes(buf[pos + 2 : stop]), stop


def read_string(buf: Buffer, pos: int, end: int) -> tuple[str, int]:
    """Read a UTF-8 encoded string [MQTT-1.5.4].

    Refuses ill-formed UTF-8, including encoded surrogates [MQTT-1.5.4-1], and
    U+0000 [MQTT-1.5.4-2]. A leading U+FEFF is kept, never stripped [MQTT-1.5.4-3].
    """
    if pos + 2 > end:
        raise MalformedPacket("truncated string length")
    stop = pos + 2 + ((buf[pos] << 8) | buf[pos + 1])
    if stop > end:
        raise MalformedPacket("truncated string")
    try:
        text = buf[pos + 2 : stop].decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedPacket("string is not well-formed UTF-8 [MQTT-1.5.4-1]") from None
    if "\x00" in text:
        raise MalformedPacket("string contains U+0000 [MQTT-1.5.4-2]")
    return text, stop


def encode_string(text: str, what: str) -> bytes:
    """Encode a UTF-8 string with its two-byte length prefix.

    Raises:
        UsageError: ``text`` is not a string, contains U+0000 or a surrogate
            code point, or is longer than 65,535 bytes.
    """
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:
        raise UsageError(f"{what} is not well-formed UTF-8 [MQTT-1.5.4-1]") from None
    except AttributeError:
        raise UsageError(f"{what} must be a str, not {type(text).__name__}") from None
    if "\x00" in text:
        raise UsageError(f"{what} must not contain U+0000 [MQTT-1.5.4-2]")
    size = len(data)
    if size > MAX_TWO_BYTE:
        raise UsageError(f"{what} is {size} bytes long, the maximum is 65535")
    return UINT16.pack(size) + data


def encode_binary(data: bytes, what: str) -> bytes:
    """Encode binary data with its two-byte length prefix.

    Raises:
        UsageError: ``data`` is not bytes-like or is longer than 65,535 bytes.
    """
    data = as_bytes(data, what)
    size = len(data)
    if size > MAX_TWO_BYTE:
        raise UsageError(f"{what} is {size} bytes long, the maximum is 65535")
    return UINT16.pack(size) + data


def as_bytes(data: object, what: str) -> bytes:
    """Return ``data`` as ``bytes`` if it is bytes-like, else raise :class:`UsageError`."""
    if type(data) is bytes:
        return data
    if isinstance(data, bytes | bytearray | memoryview):
        return bytes(data)
    raise UsageError(f"{what} must be bytes, not {type(data).__name__}")
