"""Encoding and decoding of MQTT 3.1, 3.1.1 and 5.0 packets.

* :func:`encode` turns a packet value from :mod:`emqtt_core.packets` into the
  bytes to send. It checks the packet against the protocol version first and
  raises :class:`~emqtt_core.exceptions.UsageError` for anything that version
  cannot carry, so nothing invalid is ever sent.
* :class:`Decoder` turns received bytes back into packets, incrementally:
  :meth:`Decoder.feed` the bytes as they arrive, then call
  :meth:`Decoder.next_packet` until it returns ``None`` (need more data). It
  decodes the packets of both directions, so a server (or a test playing one)
  can use it too. Whatever the bytes, it raises
  :class:`~emqtt_core.exceptions.ProtocolError` (or a subclass) and nothing
  else; the error's ``reason_code`` is what to send in the closing DISCONNECT.

Topic filters in SUBSCRIBE and UNSUBSCRIBE are decoded as strings without
checking their wildcard syntax: the specification has the server answer a bad
filter with a SUBACK or UNSUBACK reason code, not by closing the connection.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from struct import Struct
from typing import Final, NoReturn, cast

from ._primitives import (
    BYTES,
    MAX_TWO_BYTE,
    MAX_VARIABLE_BYTE_INTEGER,
    UINT16,
    UINT32,
    Buffer,
    as_bytes,
    encode_binary,
    encode_string,
    read_binary,
    read_string,
    read_uint16,
    read_variable_byte_integer,
    variable_byte_integer,
)
from .enums import PacketType, ProtocolVersion, QoS, RetainHandling
from .exceptions import MalformedPacket, PacketTooLarge, ProtocolError, UsageError
from .packets import (
    Auth,
    ConnAck,
    Connect,
    Disconnect,
    Packet,
    PingReq,
    PingResp,
    PubAck,
    PubComp,
    Publish,
    PubRec,
    PubRel,
    SubAck,
    Subscribe,
    Subscription,
    UnsubAck,
    Unsubscribe,
    Will,
)
from .properties import (
    NO_PROPERTIES,
    PROPERTY_SPECS,
    WILL_PROPERTIES,
    Properties,
    PropertyType,
    allowed_for,
)
from .reason_codes import (
    ReasonCode,
    connack_return_code,
    from_connack_return_code,
    valid_for,
)
from .topics import is_shared, validate_topic_filter, validate_topic_name

__all__ = ["MAX_PACKET_SIZE", "Decoder", "encode"]

MAX_PACKET_SIZE: Final = 1 + 4 + MAX_VARIABLE_BYTE_INTEGER
"""Largest packet MQTT can express: a fixed header of 5 bytes and the largest
remaining length. The default limit of :class:`Decoder`."""

_V3: Final = ProtocolVersion.MQTT_3_1
_V4: Final = ProtocolVersion.MQTT_3_1_1
_V5: Final = ProtocolVersion.MQTT_5

_QOS: Final = (QoS.AT_MOST_ONCE, QoS.AT_LEAST_ONCE, QoS.EXACTLY_ONCE)
_RETAIN_HANDLING: Final = tuple(RetainHandling)
_REASON_CODES: Final[dict[int, ReasonCode]] = {code.value: code for code in ReasonCode}

# The low nibble of the first byte of every packet but PUBLISH is fixed
# [MQTT-2.2.2-1]: 0b0010 for PUBREL, SUBSCRIBE and UNSUBSCRIBE
# [MQTT-3.6.1-1] [MQTT-3.8.1-1] [MQTT-3.10.1-1], zero for the others.
_FIXED_FLAGS: Final = {
    PacketType.PUBREL: 0x02,
    PacketType.SUBSCRIBE: 0x02,
    PacketType.UNSUBSCRIBE: 0x02,
}

# Protocol name with its length prefix [MQTT-3.1.2-1]; MQTT 3.1 says "MQIsdp".
_PROTOCOL_NAMES: Final = {_V3: b"\x00\x06MQIsdp", _V4: b"\x00\x04MQTT", _V5: b"\x00\x04MQTT"}

# --------------------------------------------------------------------------
# Properties


_K_BYTE: Final = PropertyType.BYTE
_K_FLAG: Final = PropertyType.FLAG
_K_U16: Final = PropertyType.TWO_BYTE_INTEGER
_K_U32: Final = PropertyType.FOUR_BYTE_INTEGER
_K_VBI: Final = PropertyType.VARIABLE_BYTE_INTEGER
_K_STR: Final = PropertyType.UTF8_STRING
_K_BIN: Final = PropertyType.BINARY_DATA
_K_PAIR: Final = PropertyType.UTF8_STRING_PAIR

# Integer properties whose value 0 is a protocol error, and the reason code to
# use (sections 3.1.2.11.3 and 3.2.2.3.3, 3.1.2.11.4 and 3.2.2.3.6, 3.3.2.3.4 with
# [MQTT-3.3.2-8]). A subscription identifier of 0 is refused where it is read.
_NONZERO: Final = {
    "receive_maximum": ReasonCode.PROTOCOL_ERROR,
    "maximum_packet_size": ReasonCode.PROTOCOL_ERROR,
    "topic_alias": ReasonCode.TOPIC_ALIAS_INVALID,
}

_ALLOWED: Final = {ptype: allowed_for(ptype) for ptype in PacketType}

_PropertyTable = tuple[tuple[str, PropertyType] | None, ...]


def _property_table(allowed: frozenset[str]) -> _PropertyTable:
    # Indexed by the identifier byte; None for identifiers that are unknown or
    # not allowed in the context, so one lookup does both checks.
    entries: list[tuple[str, PropertyType] | None] = [None] * 256
    for spec in PROPERTY_SPECS.values():
        if spec.name in allowed:
            entries[spec.id] = (spec.name, spec.type)
    return tuple(entries)


_TABLES: Final = {ptype: _property_table(allowed) for ptype, allowed in _ALLOWED.items()}
_WILL_TABLE: Final = _property_table(WILL_PROPERTIES)


def _refuse_property(pid: int, where: str) -> NoReturn:
    spec = PROPERTY_SPECS.get(pid)
    if spec is None:
        # Section 2.2.2.2: an unknown identifier makes the packet malformed.
        raise MalformedPacket(f"{where}: unknown property identifier 0x{pid:02X}")
    # Section 2.2.2.2: an identifier not valid for the packet type is malformed.
    raise MalformedPacket(f"{where}: property {spec.name} is not allowed here")


def _decode_properties(
    buf: Buffer, pos: int, end: int, table: _PropertyTable, where: str
) -> tuple[Properties, int]:
    """Read a property length and the properties that follow it (section 2.2.2)."""
    if pos >= end:
        raise MalformedPacket(f"{where}: missing property length")
    length = buf[pos]
    if length < 0x80:
        pos += 1
    else:
        length, pos = read_variable_byte_integer(buf, pos, end)
    if not length:
        return NO_PROPERTIES, pos
    stop = pos + length
    if stop > end:
        raise MalformedPacket(f"{where}: property length exceeds the packet")
    return _read_properties(buf, pos, stop, table, where), stop


def _read_properties(
    buf: Buffer, pos: int, stop: int, table: _PropertyTable, where: str
) -> Properties:
    """Read the properties in ``buf[pos:stop]`` (the bytes after a non-zero property length)."""
    # Filled in place: an instance's __dict__ holds exactly its present properties.
    properties = _new_object(Properties)
    values: dict[str, object] = properties.__dict__
    pairs: list[tuple[str, str]] | None = None
    identifiers: list[int] | None = None
    value: object
    try:
        while pos < stop:
            # Identifiers are variable byte integers, but all the defined ones
            # are below 0x80: any byte that is not in the table is refused (a
            # None entry does not unpack: TypeError).
            name, kind = table[buf[pos]]  # type: ignore[misc]
            pos += 1
            # Lengths are read with unpack_from, which raises struct.error past
            # the end of the buffer; a length that ends past ``stop`` makes
            # everything after it end past ``stop`` too, so one check suffices.
            if kind is _K_PAIR:
                # A user property is two strings [MQTT-1.5.7].
                middle = pos + 2 + _unpack_uint16(buf, pos)[0]
                after = middle + 2 + _unpack_uint16(buf, middle)[0]
                if after > stop:
                    raise MalformedPacket(f"{where}: truncated {name}")
                key = buf[pos + 2 : middle].decode()
                text = buf[middle + 2 : after].decode()
                if "\x00" in key or "\x00" in text:
                    raise MalformedPacket(f"{where}: {name} contains U+0000 [MQTT-1.5.4-2]")
                pos = after
                if pairs is None:
                    pairs = [(key, text)]
                else:
                    pairs.append((key, text))
                continue
            if kind is _K_U32:
                value = _unpack_uint32(buf, pos)[0]
                pos += 4
                if pos > stop:
                    raise MalformedPacket(f"{where}: truncated {name}")
                if not value and name in _NONZERO:
                    raise ProtocolError(f"{where}: {name} must not be 0", _NONZERO[name])
            elif kind is _K_STR:
                after = pos + 2 + _unpack_uint16(buf, pos)[0]
                if after > stop:
                    raise MalformedPacket(f"{where}: truncated {name}")
                value = buf[pos + 2 : after].decode()
                if "\x00" in value:
                    raise MalformedPacket(f"{where}: {name} contains U+0000 [MQTT-1.5.4-2]")
                pos = after
            elif kind is _K_U16:
                value = _unpack_uint16(buf, pos)[0]
                pos += 2
                if pos > stop:
                    raise MalformedPacket(f"{where}: truncated {name}")
                if not value and name in _NONZERO:
                    raise ProtocolError(f"{where}: {name} must not be 0", _NONZERO[name])
            elif kind is _K_BIN:
                after = pos + 2 + _unpack_uint16(buf, pos)[0]
                if after > stop:
                    raise MalformedPacket(f"{where}: truncated {name}")
                value = bytes(buf[pos + 2 : after])
                pos = after
            elif kind is _K_VBI:
                number, pos = read_variable_byte_integer(buf, pos, stop)
                if not number:
                    raise ProtocolError(f"{where}: subscription_identifier must not be 0")
                if identifiers is None:
                    identifiers = [number]
                else:
                    identifiers.append(number)
                continue
            else:  # one byte that must be 0 or 1
                if pos >= stop:
                    raise MalformedPacket(f"{where}: truncated {name}")
                byte = buf[pos]
                pos += 1
                if byte > 1:
                    # e.g. 3.2.2.3.4, 3.2.2.3.5: "a value other than 0 or 1" is a protocol error.
                    raise ProtocolError(f"{where}: {name} must be 0 or 1, not {byte}")
                if kind is _K_FLAG:
                    value = byte == 1
                elif name == "maximum_qos":
                    value = _QOS[byte]
                else:
                    value = byte
            if name in values:
                # Every property but the two repeatable ones appears at most once.
                raise ProtocolError(f"{where}: property {name} appears more than once")
            values[name] = value
    except UnicodeDecodeError:
        raise MalformedPacket(f"{where}: string is not well-formed UTF-8 [MQTT-1.5.4-1]") from None
    except struct.error:
        # A two- or four-byte value read past the end of the buffer.
        raise MalformedPacket(f"{where}: truncated {name}") from None
    except TypeError:
        if table[buf[pos]] is not None:  # pragma: no cover - not an unknown identifier
            raise
        _refuse_property(buf[pos], where)
    if pairs is not None:
        values["user_property"] = tuple(pairs)
    if identifiers is not None:
        values["subscription_identifier"] = tuple(identifiers)
    return properties


_new_object = object.__new__
_unpack_uint32 = UINT32.unpack_from
_unpack_uint16 = UINT16.unpack_from


# A property writer appends one encoded property (identifier and value), or every
# value of a repeatable one, to the packet's property bytes; it raises UsageError
# for a value the property cannot carry. Each packet type has a table of the
# writers of the properties it may carry, so one lookup both checks that a
# property is allowed and finds how to encode it.
_Writer = Callable[[object, bytearray], None]


def _write_fixed(fmt: str, highest: str) -> Callable[[int, str], _Writer]:
    """A writer factory for a fixed-size integer property (``fmt``: its struct code)."""

    def factory(pid: int, name: str) -> _Writer:
        pack = Struct(">B" + fmt).pack
        lowest = 1 if name in _NONZERO else 0

        def write(value: object, out: bytearray) -> None:
            try:
                if lowest and not value:
                    raise struct.error
                out += pack(pid, value)
            except struct.error:
                raise UsageError(
                    f"{name} must be an int from {lowest} to {highest}, not {value!r}"
                ) from None

        return write

    return factory


_write_u16 = _write_fixed("H", "65535")
_write_u32 = _write_fixed("I", "2**32-1")


def _write_byte(pid: int, name: str) -> _Writer:
    encoded = (bytes((pid, 0)), bytes((pid, 1)))

    def write(value: object, out: bytearray) -> None:
        if value not in (0, 1) or type(value) not in (int, QoS, bool):
            raise UsageError(f"{name} must be 0 or 1, not {value!r}")
        out += encoded[value]

    return write


def _write_flag(pid: int, name: str) -> _Writer:
    encoded = (bytes((pid, 0)), bytes((pid, 1)))

    def write(value: object, out: bytearray) -> None:
        if type(value) is not bool:
            raise UsageError(f"{name} must be a bool, not {value!r}")
        out += encoded[value]

    return write


def _write_str(pid: int, name: str) -> _Writer:
    prefix = BYTES[pid]

    def write(value: object, out: bytearray) -> None:
        out += prefix + encode_string(cast(str, value), name)

    return write


def _write_bin(pid: int, name: str) -> _Writer:
    prefix = BYTES[pid]

    def write(value: object, out: bytearray) -> None:
        out += prefix + encode_binary(cast(bytes, value), name)

    return write


def _write_pairs(pid: int, name: str) -> _Writer:
    head = Struct(">BH").pack
    length = UINT16.pack

    def write(value: object, out: bytearray) -> None:
        try:
            for key, text in value:  # type: ignore[attr-defined]
                key_bytes = key.encode()
                text_bytes = text.encode()
                if "\x00" in key or "\x00" in text:
                    raise UsageError(f"{name} must not contain U+0000 [MQTT-1.5.4-2]")
                out += head(pid, len(key_bytes)) + key_bytes + length(len(text_bytes)) + text_bytes
        except UsageError:
            raise
        except UnicodeEncodeError:
            raise UsageError(f"{name} is not well-formed UTF-8 [MQTT-1.5.4-1]") from None
        except (TypeError, ValueError, AttributeError, struct.error):
            # struct.error: a string over 65535 bytes.
            raise UsageError(f"{name} must be a tuple of (name, value) string pairs") from None

    return write


def _write_vbis(pid: int, name: str) -> _Writer:
    prefix = BYTES[pid]

    def write(value: object, out: bytearray) -> None:
        if not isinstance(value, tuple | list):
            raise UsageError(f"{name} must be a tuple of ints")
        for number in value:
            if type(number) is not int or not 0 < number <= MAX_VARIABLE_BYTE_INTEGER:
                raise UsageError(f"{name} must be from 1 to 268435455, not {number!r}")
            out += prefix + variable_byte_integer(number)

    return write


_WRITER_FACTORIES: Final = {
    _K_BYTE: _write_byte,
    _K_FLAG: _write_flag,
    _K_U16: _write_u16,
    _K_U32: _write_u32,
    _K_VBI: _write_vbis,
    _K_STR: _write_str,
    _K_BIN: _write_bin,
    _K_PAIR: _write_pairs,
}
_PROPERTY_WRITERS: Final = {
    spec.name: _WRITER_FACTORIES[spec.type](spec.id, spec.name) for spec in PROPERTY_SPECS.values()
}

_Writers = dict[str, _Writer]


def _writers(allowed: frozenset[str]) -> _Writers:
    return {name: _PROPERTY_WRITERS[name] for name in allowed}


_WRITERS: Final = {ptype: _writers(allowed) for ptype, allowed in _ALLOWED.items()}
_WILL_WRITERS: Final = _writers(WILL_PROPERTIES)
_EMPTY_PROPERTIES: Final = b"\x00"


def _present(properties: Properties, where: str) -> dict[str, object]:
    """The properties present in ``properties``, which must be a :class:`Properties`."""
    if type(properties) is not Properties:
        raise UsageError(f"{where}: properties must be a Properties, not {properties!r}")
    return properties.__dict__


def _encode_properties(properties: Properties, writers: _Writers, where: str) -> bytes:
    """Encode a property length and the properties, refusing those not in ``writers``."""
    present = (
        properties.__dict__
        if properties.__class__ is Properties
        else _present(properties, where)  # raises the UsageError
    )
    if not present:
        return _EMPTY_PROPERTIES
    # One bytearray that every writer appends to: linear however many
    # properties (user properties especially) there are.
    body = bytearray()
    for name, value in present.items():
        write = writers.get(name)
        if write is None:
            raise UsageError(f"property {name} is not allowed in {where}")
        write(value, body)
    size = len(body)
    return (BYTES[size] if size < 0x80 else variable_byte_integer(size)) + body


def _refuse_properties(properties: Properties, version: ProtocolVersion, where: str) -> None:
    if _present(properties, where):
        raise UsageError(f"{where}: properties need MQTT 5, not {version.name}")


# --------------------------------------------------------------------------
# Encoding


def _fixed_header(first: int, remaining: int) -> bytes:
    if remaining < 0x80:
        return bytes((first, remaining))
    if remaining < 0x4000:
        return bytes((first, remaining & 0x7F | 0x80, remaining >> 7))
    if remaining > MAX_VARIABLE_BYTE_INTEGER:
        raise UsageError(f"packet too large for MQTT: remaining length {remaining}")
    return BYTES[first] + variable_byte_integer(remaining)


def _packet_id(packet_id: object, where: str) -> bytes:
    # [MQTT-2.2.1-3] packets that carry a packet identifier need a non-zero one.
    if type(packet_id) is not int or not 0 < packet_id <= MAX_TWO_BYTE:
        raise UsageError(f"{where}: packet_id must be from 1 to 65535, not {packet_id!r}")
    return UINT16.pack(packet_id)


def _qos(qos: object, where: str) -> int:
    if qos not in (0, 1, 2) or type(qos) not in (QoS, int):
        raise UsageError(f"{where}: qos must be 0, 1 or 2, not {qos!r}")
    return qos


def _encode_publish(packet: Publish, version: ProtocolVersion) -> bytes:
    # The hot path of a client: written out flat, checks first, one join. Each
    # check is one cheap test in the common case; the functions that explain a
    # refusal run only when it fails.
    topic = packet.topic
    try:
        topic_bytes = topic.encode()
    except (UnicodeEncodeError, AttributeError):
        validate_topic_name(topic)  # raises the UsageError that explains why
        raise  # pragma: no cover - validate_topic_name refused it
    size = len(topic_bytes)
    if "+" in topic or "#" in topic or "\x00" in topic or size > MAX_TWO_BYTE:
        validate_topic_name(topic)
    payload = packet.payload
    if type(payload) is not bytes:
        payload = as_bytes(payload, "payload")
    qos: int = packet.qos
    if type(qos) is not QoS:
        qos = _qos(qos, "PUBLISH")
    packet_id = packet.packet_id
    first = _PUBLISH_FIRST_BYTES[qos]
    if packet.retain:
        first |= 0x01
    if qos:
        # [MQTT-2.2.1-3] QoS 1 and 2 need a non-zero packet identifier.
        if type(packet_id) is not int or not 0 < packet_id <= MAX_TWO_BYTE:
            _packet_id(packet_id, "PUBLISH")
        if packet.dup:
            first |= 0x08
    else:
        if packet_id is not None:
            # [MQTT-2.2.1-2] a QoS 0 PUBLISH has no packet identifier.
            raise UsageError("PUBLISH: a QoS 0 message has no packet_id")
        if packet.dup:
            raise UsageError("PUBLISH: DUP must be 0 for QoS 0 [MQTT-3.3.1-2]")
    properties = packet.properties
    if version is _V5:
        if properties is NO_PROPERTIES:
            props = _EMPTY_PROPERTIES
        else:
            props = _encode_properties(properties, _PUBLISH_WRITERS, "PUBLISH")
        if not size and properties.topic_alias is None:
            raise UsageError("PUBLISH: an empty topic needs a topic_alias [MQTT-3.3.2-1]")
        remaining = size + len(props) + len(payload) + (4 if qos else 2)
    else:
        if properties is not NO_PROPERTIES:
            _refuse_properties(properties, version, "PUBLISH")
        if not size:
            validate_topic_name(topic)
        props = b""
        remaining = size + len(payload) + (4 if qos else 2)
    if remaining < 0x80:
        header = _pack_header_2(first, remaining, size)
    elif remaining < 0x4000:
        header = _pack_header_3(first, remaining & 0x7F | 0x80, remaining >> 7, size)
    else:
        header = _fixed_header(first, remaining) + _pack_uint16(size)
    if qos:
        return b"".join((header, topic_bytes, _pack_uint16(packet_id), props, payload))
    return b"".join((header, topic_bytes, props, payload))


# Fixed header with a one- or two-byte remaining length, and the topic length.
_pack_header_2: Final = Struct(">BBH").pack
_pack_header_3: Final = Struct(">BBBH").pack
_pack_uint16: Final = UINT16.pack
# The first byte of a PUBLISH by QoS, before DUP and RETAIN are added.
_PUBLISH_FIRST_BYTES: Final = (0x30, 0x32, 0x34)

_PUBLISH_WRITERS: Final = _WRITERS[PacketType.PUBLISH]
_PUBLISH_TABLE: Final = _TABLES[PacketType.PUBLISH]


def _reason(code: object, ptype: PacketType, where: str) -> int:
    if code not in valid_for(ptype) or type(code) not in (ReasonCode, int):
        raise UsageError(f"{where}: reason code {code!r} is not valid in {ptype.name}")
    return cast(int, code)


def _encode_ack(packet: PubAck | PubRec | PubRel | PubComp, version: ProtocolVersion) -> bytes:
    packet_id = packet.packet_id
    if (
        packet.reason_code is _SUCCESS
        and packet.properties is NO_PROPERTIES
        and type(packet_id) is int
        and 0 < packet_id <= MAX_TWO_BYTE
    ):
        # The common acknowledgement, the same on every version: 3.4.2.1 lets
        # MQTT 5 omit the reason code and property length on success without
        # properties, and brokers do so.
        return _pack_ack(_ACK_FIRST_BYTES[packet.__class__], 2, packet_id)
    return _encode_ack_in_full(packet, version)


_SUCCESS: Final = ReasonCode.SUCCESS
_pack_ack: Final = Struct(">BBH").pack
# The first byte of each acknowledgement: its type and fixed flags [MQTT-2.2.2-1]
# (0b0010 for PUBREL [MQTT-3.6.1-1], zero for the others).
_ACK_FIRST_BYTES: Final[dict[type[PubAck | PubRec | PubRel | PubComp], int]] = {
    PubAck: 0x40,
    PubRec: 0x50,
    PubRel: 0x62,
    PubComp: 0x70,
}


def _encode_ack_in_full(
    packet: PubAck | PubRec | PubRel | PubComp, version: ProtocolVersion
) -> bytes:
    ptype = packet.packet_type
    where = ptype.name
    first = 0x62 if ptype is PacketType.PUBREL else ptype << 4
    packet_id = _packet_id(packet.packet_id, where)
    properties = packet.properties
    code = packet.reason_code
    if version is not _V5:
        if code != ReasonCode.SUCCESS:
            raise UsageError(f"{where}: reason codes need MQTT 5, not {version.name}")
        _refuse_properties(properties, version, where)
        return bytes((first, 2)) + packet_id
    if not _present(properties, where):
        if code == ReasonCode.SUCCESS and type(code) in (ReasonCode, int):
            # 3.4.2.1: reason code and property length may be omitted on success
            # without properties; brokers do so.
            return bytes((first, 2)) + packet_id
        # 3.4.2.2.1: the property length may be omitted when there are none.
        return bytes((first, 3)) + packet_id + BYTES[_reason(code, ptype, where)]
    body = (
        packet_id
        + BYTES[_reason(code, ptype, where)]
        + _encode_properties(properties, _WRITERS[ptype], where)
    )
    return _fixed_header(first, len(body)) + body


def _encode_connect(packet: Connect, version: ProtocolVersion) -> bytes:
    if packet.protocol_version != version:
        raise UsageError(
            f"CONNECT: protocol_version {packet.protocol_version!r} differs from the "
            f"version {version.name} it is encoded for"
        )
    v5 = version is _V5
    keep_alive = packet.keep_alive
    if type(keep_alive) is not int or not 0 <= keep_alive <= MAX_TWO_BYTE:
        raise UsageError(f"CONNECT: keep_alive must be from 0 to 65535, not {keep_alive!r}")
    client_id = encode_string(packet.client_id, "client_id")
    if not packet.client_id and not v5:
        if version is _V3:
            raise UsageError("CONNECT: MQTT 3.1 needs a client_id of at least one character")
        if not packet.clean_start:
            # [MQTT-3.1.3-7] a zero-byte client id requires clean session.
            raise UsageError("CONNECT: an empty client_id needs clean_start [MQTT-3.1.3-7]")
    flags = 0x02 if packet.clean_start else 0
    parts = [_PROTOCOL_NAMES[version], BYTES[version], b"", UINT16.pack(keep_alive)]
    if v5:
        parts.append(_encode_properties(packet.properties, _WRITERS[PacketType.CONNECT], "CONNECT"))
    else:
        _refuse_properties(packet.properties, version, "CONNECT")
    parts.append(client_id)
    will = packet.will
    if will is not None:
        if type(will) is not Will:
            raise UsageError(f"CONNECT: will must be a Will, not {will!r}")
        validate_topic_name(will.topic)
        flags |= 0x04 | (_qos(will.qos, "will") << 3) | (0x20 if will.retain else 0)
        if v5:
            parts.append(_encode_properties(will.properties, _WILL_WRITERS, "will"))
        else:
            _refuse_properties(will.properties, version, "will")
        parts.append(encode_string(will.topic, "will topic"))
        parts.append(encode_binary(will.payload, "will payload"))
    if packet.username is not None:
        flags |= 0x80
        parts.append(encode_string(packet.username, "username"))
    if packet.password is not None:
        if packet.username is None and not v5:
            # [MQTT-3.1.2-22] before MQTT 5 a password needs a user name.
            raise UsageError("CONNECT: a password needs a username before MQTT 5 [MQTT-3.1.2-22]")
        flags |= 0x40
        parts.append(encode_binary(packet.password, "password"))
    parts[2] = BYTES[flags]  # now that the flags are known
    body = b"".join(parts)
    return _fixed_header(0x10, len(body)) + body


def _encode_connack(packet: ConnAck, version: ProtocolVersion) -> bytes:
    flags = BYTES[1 if packet.session_present else 0]
    code = packet.reason_code
    if version is not _V5:
        _refuse_properties(packet.properties, version, "CONNACK")
        return_code = connack_return_code(code) if type(code) is ReasonCode else None
        if return_code is None:
            raise UsageError(f"CONNACK: {code!r} has no {version.name} return code")
        return bytes((0x20, 2)) + flags + BYTES[return_code]
    body = (
        flags
        + BYTES[_reason(code, PacketType.CONNACK, "CONNACK")]
        + _encode_properties(packet.properties, _WRITERS[PacketType.CONNACK], "CONNACK")
    )
    return _fixed_header(0x20, len(body)) + body


def _encode_subscription(sub: Subscription, version: ProtocolVersion) -> bytes:
    if type(sub) is not Subscription:
        raise UsageError(f"SUBSCRIBE: {sub!r} is not a Subscription")
    validate_topic_filter(sub.topic_filter)
    options = _qos(sub.qos, "subscription")
    handling = sub.retain_handling
    if handling not in (0, 1, 2) or type(handling) not in (RetainHandling, int):
        raise UsageError(f"SUBSCRIBE: retain_handling must be 0, 1 or 2, not {handling!r}")
    if version is _V5:
        if sub.no_local:
            if is_shared(sub.topic_filter):
                # [MQTT-3.8.3-4] no_local on a shared subscription is a protocol error.
                raise UsageError("SUBSCRIBE: no_local is not allowed on a shared subscription")
            options |= 0x04
        if sub.retain_as_published:
            options |= 0x08
        options |= handling << 4
    elif sub.no_local or sub.retain_as_published or handling:
        raise UsageError(f"SUBSCRIBE: subscription options need MQTT 5, not {version.name}")
    return encode_string(sub.topic_filter, "topic filter") + BYTES[options]


def _encode_subscribe(packet: Subscribe, version: ProtocolVersion) -> bytes:
    subscriptions = packet.subscriptions
    if not subscriptions:
        raise UsageError("SUBSCRIBE needs at least one subscription [MQTT-3.8.3-3]")
    parts = [_packet_id(packet.packet_id, "SUBSCRIBE")]
    properties = packet.properties
    if version is _V5:
        if len(properties.subscription_identifier) > 1:
            raise UsageError("SUBSCRIBE carries at most one subscription_identifier")
        parts.append(_encode_properties(properties, _WRITERS[PacketType.SUBSCRIBE], "SUBSCRIBE"))
    else:
        _refuse_properties(properties, version, "SUBSCRIBE")
    parts.extend(_encode_subscription(sub, version) for sub in subscriptions)
    body = b"".join(parts)
    return _fixed_header(0x82, len(body)) + body


def _encode_suback(packet: SubAck, version: ProtocolVersion) -> bytes:
    codes = packet.reason_codes
    if not codes:
        raise UsageError("SUBACK needs at least one reason code")
    parts = [_packet_id(packet.packet_id, "SUBACK")]
    if version is _V5:
        parts.append(_encode_properties(packet.properties, _WRITERS[PacketType.SUBACK], "SUBACK"))
        parts.extend(BYTES[_reason(code, PacketType.SUBACK, "SUBACK")] for code in codes)
    else:
        _refuse_properties(packet.properties, version, "SUBACK")
        for code in codes:
            if code not in (0, 1, 2, 0x80):
                raise UsageError(f"SUBACK: {code!r} has no {version.name} return code")
            parts.append(BYTES[code])
    body = b"".join(parts)
    return _fixed_header(0x90, len(body)) + body


def _encode_unsubscribe(packet: Unsubscribe, version: ProtocolVersion) -> bytes:
    filters: object = packet.topic_filters
    if not filters or not isinstance(filters, tuple | list):
        raise UsageError("UNSUBSCRIBE needs a tuple of at least one topic filter [MQTT-3.10.3-2]")
    parts = [_packet_id(packet.packet_id, "UNSUBSCRIBE")]
    if version is _V5:
        parts.append(
            _encode_properties(packet.properties, _WRITERS[PacketType.UNSUBSCRIBE], "UNSUBSCRIBE")
        )
    else:
        _refuse_properties(packet.properties, version, "UNSUBSCRIBE")
    for topic_filter in filters:
        validate_topic_filter(topic_filter)
        parts.append(encode_string(topic_filter, "topic filter"))
    body = b"".join(parts)
    return _fixed_header(0xA2, len(body)) + body


def _encode_unsuback(packet: UnsubAck, version: ProtocolVersion) -> bytes:
    parts = [_packet_id(packet.packet_id, "UNSUBACK")]
    codes = packet.reason_codes
    if version is _V5:
        if not codes:
            raise UsageError("UNSUBACK needs one reason code per topic filter on MQTT 5")
        parts.append(
            _encode_properties(packet.properties, _WRITERS[PacketType.UNSUBACK], "UNSUBACK")
        )
        parts.extend(BYTES[_reason(code, PacketType.UNSUBACK, "UNSUBACK")] for code in codes)
    else:
        _refuse_properties(packet.properties, version, "UNSUBACK")
        if codes:
            raise UsageError(f"UNSUBACK: reason codes need MQTT 5, not {version.name}")
    body = b"".join(parts)
    return _fixed_header(0xB0, len(body)) + body


def _encode_pingreq(packet: PingReq, version: ProtocolVersion) -> bytes:
    return b"\xc0\x00"


def _encode_pingresp(packet: PingResp, version: ProtocolVersion) -> bytes:
    return b"\xd0\x00"


def _encode_disconnect(packet: Disconnect, version: ProtocolVersion) -> bytes:
    code = packet.reason_code
    if version is not _V5:
        if code != ReasonCode.NORMAL_DISCONNECTION:
            raise UsageError(f"DISCONNECT: reason codes need MQTT 5, not {version.name}")
        _refuse_properties(packet.properties, version, "DISCONNECT")
        return b"\xe0\x00"
    return _encode_reason_and_properties(0xE0, code, packet.properties, PacketType.DISCONNECT)


def _encode_auth(packet: Auth, version: ProtocolVersion) -> bytes:
    if version is not _V5:
        raise UsageError(f"AUTH needs MQTT 5, not {version.name}")
    return _encode_reason_and_properties(
        0xF0, packet.reason_code, packet.properties, PacketType.AUTH
    )


def _encode_reason_and_properties(
    first: int, code: ReasonCode, properties: Properties, ptype: PacketType
) -> bytes:
    # 3.14.2.1, 3.15.2.1: reason code and property length may both be omitted
    # (remaining length 0) for success without properties.
    value = _reason(code, ptype, ptype.name)
    if not value and not _present(properties, ptype.name):
        return bytes((first, 0))
    body = BYTES[value] + _encode_properties(properties, _WRITERS[ptype], ptype.name)
    return _fixed_header(first, len(body)) + body


_Encoder = Callable[[Packet, ProtocolVersion], bytes]
_ENCODERS: Final[dict[type, _Encoder]] = {
    cls: cast(_Encoder, function)
    for cls, function in (
        (Connect, _encode_connect),
        (ConnAck, _encode_connack),
        (Publish, _encode_publish),
        (PubAck, _encode_ack),
        (PubRec, _encode_ack),
        (PubRel, _encode_ack),
        (PubComp, _encode_ack),
        (Subscribe, _encode_subscribe),
        (SubAck, _encode_suback),
        (Unsubscribe, _encode_unsubscribe),
        (UnsubAck, _encode_unsuback),
        (PingReq, _encode_pingreq),
        (PingResp, _encode_pingresp),
        (Disconnect, _encode_disconnect),
        (Auth, _encode_auth),
    )
}
_VERSIONS: Final = {int(version): version for version in ProtocolVersion}


def encode(packet: Packet, protocol_version: ProtocolVersion | int) -> bytes:
    """Return the bytes of ``packet`` for ``protocol_version``.

    Args:
        packet: any packet value.
        protocol_version: 3 (MQTT 3.1), 4 (MQTT 3.1.1) or 5 (MQTT 5.0).

    Raises:
        UsageError: the packet cannot be sent on that version, or a field is
            out of range (bad topic, QoS 3, packet id 0, a property that packet
            type may not carry, a reason code it may not carry...).
    """
    try:
        encoder = _ENCODERS[type(packet)]
        version = _VERSIONS[protocol_version]
    except (KeyError, TypeError):
        if type(packet) not in _ENCODERS:
            raise UsageError(f"not a packet: {packet!r}") from None
        raise UsageError(f"unknown protocol version {protocol_version!r}") from None
    return encoder(packet, version)


# --------------------------------------------------------------------------
# Decoding


class _PublishFields:
    """Publish's slots, writable: the decoder fills one in, then makes it a Publish.

    A frozen dataclass sets each field through ``object.__setattr__``; that
    costs more than the rest of decoding a PUBLISH. An object with the same
    slot layout is filled with plain stores and then given the frozen class,
    which yields exactly the value ``Publish(...)`` would have built.
    ``Decoder.next_packet`` writes these stores out after ``object.__new__``,
    which costs less again than calling a class.
    """

    __slots__ = ("dup", "packet_id", "payload", "properties", "qos", "retain", "topic")

    def __init__(  # noqa: PLR0917 - positional on purpose: it is the hot path
        self,
        topic: str,
        payload: bytes,
        qos: QoS,
        retain: bool,
        dup: bool,
        packet_id: int | None,
        properties: Properties,
    ) -> None:
        self.topic = topic
        self.payload = payload
        self.qos = qos
        self.retain = retain
        self.dup = dup
        self.packet_id = packet_id
        self.properties = properties
        self.__class__ = Publish  # type: ignore[assignment]  # noqa: PLE0237


class _AckFields:
    """The same trick for PUBACK, PUBREC, PUBREL and PUBCOMP, which share a layout."""

    __slots__ = ("packet_id", "properties", "reason_code")

    packet_id: int
    reason_code: ReasonCode
    properties: Properties


def _new_ack(
    cls: type[PubAck | PubRec | PubRel | PubComp],
    packet_id: int,
    reason_code: ReasonCode,
    properties: Properties,
) -> PubAck | PubRec | PubRel | PubComp:
    ack = _new_object(_AckFields)
    ack.packet_id = packet_id
    ack.reason_code = reason_code
    ack.properties = properties
    ack.__class__ = cls  # type: ignore[assignment]
    return ack  # type: ignore[return-value]


def _decode_connect(buf: Buffer, pos: int, end: int) -> Connect:
    name, pos = read_string(buf, pos, end)
    if pos >= end:
        raise MalformedPacket("CONNECT: truncated protocol level")
    level = buf[pos]
    pos += 1
    if (name, level) not in (("MQTT", 4), ("MQTT", 5), ("MQIsdp", 3)):
        # [MQTT-3.1.2-1] [MQTT-3.1.2-2] unknown protocol name or level.
        raise ProtocolError(
            f"CONNECT: unsupported protocol {name!r} level {level}",
            ReasonCode.UNSUPPORTED_PROTOCOL_VERSION,
        )
    version = _VERSIONS[level]
    v5 = version is _V5
    if pos + 3 > end:
        raise MalformedPacket("CONNECT: truncated variable header")
    flags = buf[pos]
    keep_alive = (buf[pos + 1] << 8) | buf[pos + 2]
    pos += 3
    if flags & 0x01:
        raise MalformedPacket("CONNECT: reserved flag is set [MQTT-3.1.2-3]")
    will_qos = (flags >> 3) & 0x03
    if not flags & 0x04 and (will_qos or flags & 0x20):
        raise MalformedPacket(
            "CONNECT: will QoS or retain without a will [MQTT-3.1.2-11] [MQTT-3.1.2-13]"
        )
    if will_qos == 3:
        raise MalformedPacket("CONNECT: will QoS 3 [MQTT-3.1.2-12]")
    if flags & 0x40 and not flags & 0x80 and not v5:
        raise MalformedPacket("CONNECT: password without user name [MQTT-3.1.2-22]")
    properties = NO_PROPERTIES
    if v5:
        properties, pos = _decode_properties(buf, pos, end, _TABLES[PacketType.CONNECT], "CONNECT")
        if properties.authentication_data is not None and properties.authentication_method is None:
            # 3.1.2.11.10: authentication data without a method is a protocol error.
            raise ProtocolError("CONNECT: authentication_data without authentication_method")
    client_id, pos = read_string(buf, pos, end)
    will = None
    if flags & 0x04:
        will_properties = NO_PROPERTIES
        if v5:
            will_properties, pos = _decode_properties(buf, pos, end, _WILL_TABLE, "will")
        will_topic, pos = read_string(buf, pos, end)
        _check_topic_name(will_topic, "will")
        will_payload, pos = read_binary(buf, pos, end)
        will = Will(
            topic=will_topic,
            payload=will_payload,
            qos=_QOS[will_qos],
            retain=bool(flags & 0x20),
            properties=will_properties,
        )
    username = None
    if flags & 0x80:
        username, pos = read_string(buf, pos, end)
    password = None
    if flags & 0x40:
        password, pos = read_binary(buf, pos, end)
    _check_end(pos, end, "CONNECT")
    return Connect(
        protocol_version=version,
        client_id=client_id,
        clean_start=bool(flags & 0x02),
        keep_alive=keep_alive,
        username=username,
        password=password,
        will=will,
        properties=properties,
    )


def _check_end(pos: int, end: int, where: str) -> None:
    if pos != end:
        raise MalformedPacket(f"{where}: {end - pos} bytes beyond its contents")


def _check_topic_name(topic: str, where: str) -> None:
    if "+" in topic or "#" in topic:
        raise ProtocolError(
            f"{where}: topic name {topic!r} contains a wildcard [MQTT-3.3.2-2]",
            ReasonCode.TOPIC_NAME_INVALID,
        )
    if not topic:
        raise ProtocolError(f"{where}: empty topic name", ReasonCode.TOPIC_NAME_INVALID)


def _decode_reason(value: int, ptype: PacketType) -> ReasonCode:
    code = _REASON_CODES.get(value)
    if code is None or code not in valid_for(ptype):
        raise MalformedPacket(f"{ptype.name}: reason code 0x{value:02X} is not valid here")
    return code


def _decode_connack(buf: Buffer, pos: int, end: int, version: ProtocolVersion) -> ConnAck:
    if pos + 2 > end:
        raise MalformedPacket("CONNACK: truncated")
    flags = buf[pos]
    value = buf[pos + 1]
    if flags & 0xFE:
        raise MalformedPacket("CONNACK: reserved flags are set [MQTT-3.2.2-1]")
    if version is not _V5:
        _check_end(pos + 2, end, "CONNACK")
        code = from_connack_return_code(value)
        if code is None:
            raise MalformedPacket(f"CONNACK: unknown return code {value}")
        return ConnAck(session_present=flags == 1, reason_code=code)
    code = _decode_reason(value, PacketType.CONNACK)
    properties, pos = _decode_properties(buf, pos + 2, end, _TABLES[PacketType.CONNACK], "CONNACK")
    _check_end(pos, end, "CONNACK")
    return ConnAck(session_present=flags == 1, reason_code=code, properties=properties)


def _decode_ack(
    buf: Buffer,
    pos: int,
    end: int,
    cls: type[PubAck | PubRec | PubRel | PubComp],
    version: ProtocolVersion,
) -> PubAck | PubRec | PubRel | PubComp:
    length = end - pos
    if length == 2:
        # The common form: a packet identifier alone.
        packet_id: int = _unpack_uint16(buf, pos)[0]
        if packet_id:
            return _new_ack(cls, packet_id, _SUCCESS, NO_PROPERTIES)
    ptype = cls.packet_type
    if length < 2:
        raise MalformedPacket(f"{ptype.name}: truncated packet identifier")
    packet_id = _unpack_uint16(buf, pos)[0]
    if not packet_id:
        raise MalformedPacket(f"{ptype.name}: packet identifier 0 [MQTT-2.2.1-3]")
    if version is not _V5:
        raise MalformedPacket(f"{ptype.name}: remaining length must be 2, not {length}")
    code = _decode_reason(buf[pos + 2], ptype)
    properties = NO_PROPERTIES
    if length > 3:
        properties, pos = _decode_properties(buf, pos + 3, end, _TABLES[ptype], ptype.name)
        _check_end(pos, end, ptype.name)
    return _new_ack(cls, packet_id, code, properties)


# The acknowledgement class of a first byte with valid flags, or None: one lookup
# does both checks.
_ACK_CLASSES_BY_FIRST_BYTE: Final = tuple(
    next((cls for cls, byte in _ACK_FIRST_BYTES.items() if byte == first), None)
    for first in range(256)
)


def _decode_subscribe(buf: Buffer, pos: int, end: int, version: ProtocolVersion) -> Subscribe:
    packet_id, pos = _read_packet_id(buf, pos, end, "SUBSCRIBE")
    v5 = version is _V5
    properties = NO_PROPERTIES
    if v5:
        properties, pos = _decode_properties(
            buf, pos, end, _TABLES[PacketType.SUBSCRIBE], "SUBSCRIBE"
        )
        if len(properties.subscription_identifier) > 1:
            raise ProtocolError("SUBSCRIBE: more than one subscription_identifier")
    subscriptions = []
    while pos < end:
        topic_filter, pos = read_string(buf, pos, end)
        if pos >= end:
            raise MalformedPacket("SUBSCRIBE: missing subscription options")
        options = buf[pos]
        pos += 1
        qos = options & 0x03
        if qos == 3:
            raise MalformedPacket("SUBSCRIBE: QoS 3 [MQTT-3.8.3-4]")
        if v5:
            if options & 0xC0:
                raise MalformedPacket("SUBSCRIBE: reserved option bits set [MQTT-3.8.3-5]")
            handling = options >> 4 & 0x03
            if handling == 3:
                raise ProtocolError("SUBSCRIBE: retain handling 3")
            no_local = options & 0x04 != 0
            if no_local and is_shared(topic_filter):
                raise ProtocolError("SUBSCRIBE: no_local on a shared subscription [MQTT-3.8.3-4]")
            subscriptions.append(
                Subscription(
                    topic_filter=topic_filter,
                    qos=_QOS[qos],
                    no_local=no_local,
                    retain_as_published=options & 0x08 != 0,
                    retain_handling=_RETAIN_HANDLING[handling],
                )
            )
        else:
            if options & 0xFC:
                raise MalformedPacket("SUBSCRIBE: reserved option bits set [MQTT-3-8.3-4]")
            subscriptions.append(Subscription(topic_filter=topic_filter, qos=_QOS[qos]))
    if not subscriptions:
        raise ProtocolError("SUBSCRIBE without a topic filter [MQTT-3.8.3-3]")
    return Subscribe(packet_id=packet_id, subscriptions=tuple(subscriptions), properties=properties)


def _read_packet_id(buf: Buffer, pos: int, end: int, where: str) -> tuple[int, int]:
    packet_id, pos = read_uint16(buf, pos, end)
    if not packet_id:
        raise MalformedPacket(f"{where}: packet identifier 0 [MQTT-2.2.1-3]")
    return packet_id, pos


def _decode_suback(buf: Buffer, pos: int, end: int, version: ProtocolVersion) -> SubAck:
    packet_id, pos = _read_packet_id(buf, pos, end, "SUBACK")
    properties = NO_PROPERTIES
    if version is _V5:
        properties, pos = _decode_properties(buf, pos, end, _TABLES[PacketType.SUBACK], "SUBACK")
        codes = tuple(_decode_reason(value, PacketType.SUBACK) for value in buf[pos:end])
    else:
        codes = tuple(_decode_v3_suback(value) for value in buf[pos:end])
    if not codes:
        raise ProtocolError("SUBACK without a reason code")
    return SubAck(packet_id=packet_id, reason_codes=codes, properties=properties)


_V3_SUBACK: Final = {
    0: ReasonCode.GRANTED_QOS_0,
    1: ReasonCode.GRANTED_QOS_1,
    2: ReasonCode.GRANTED_QOS_2,
    0x80: ReasonCode.UNSPECIFIED_ERROR,
}


def _decode_v3_suback(value: int) -> ReasonCode:
    code = _V3_SUBACK.get(value)
    if code is None:
        raise MalformedPacket(f"SUBACK: unknown return code 0x{value:02X}")
    return code


def _decode_unsubscribe(buf: Buffer, pos: int, end: int, version: ProtocolVersion) -> Unsubscribe:
    packet_id, pos = _read_packet_id(buf, pos, end, "UNSUBSCRIBE")
    properties = NO_PROPERTIES
    if version is _V5:
        properties, pos = _decode_properties(
            buf, pos, end, _TABLES[PacketType.UNSUBSCRIBE], "UNSUBSCRIBE"
        )
    filters = []
    while pos < end:
        topic_filter, pos = read_string(buf, pos, end)
        filters.append(topic_filter)
    if not filters:
        raise ProtocolError("UNSUBSCRIBE without a topic filter [MQTT-3.10.3-2]")
    return Unsubscribe(packet_id=packet_id, topic_filters=tuple(filters), properties=properties)


def _decode_unsuback(buf: Buffer, pos: int, end: int, version: ProtocolVersion) -> UnsubAck:
    packet_id, pos = _read_packet_id(buf, pos, end, "UNSUBACK")
    if version is not _V5:
        _check_end(pos, end, "UNSUBACK")
        return UnsubAck(packet_id=packet_id)
    properties, pos = _decode_properties(buf, pos, end, _TABLES[PacketType.UNSUBACK], "UNSUBACK")
    codes = tuple(_decode_reason(value, PacketType.UNSUBACK) for value in buf[pos:end])
    if not codes:
        raise ProtocolError("UNSUBACK without a reason code")
    return UnsubAck(packet_id=packet_id, reason_codes=codes, properties=properties)


def _decode_empty(pos: int, end: int, where: str) -> None:
    if pos != end:
        raise MalformedPacket(f"{where}: remaining length must be 0, not {end - pos}")


def _decode_reason_and_properties(
    buf: Buffer, pos: int, end: int, ptype: PacketType
) -> tuple[ReasonCode, Properties]:
    # 3.14.2.1 / 3.15.2.1: no reason code means success; 3.14.2.2.1: no
    # property length means no properties.
    if pos == end:
        return ReasonCode.SUCCESS, NO_PROPERTIES
    code = _decode_reason(buf[pos], ptype)
    if pos + 1 == end:
        return code, NO_PROPERTIES
    properties, pos = _decode_properties(buf, pos + 1, end, _TABLES[ptype], ptype.name)
    _check_end(pos, end, ptype.name)
    return code, properties


def _decode_disconnect(buf: Buffer, pos: int, end: int, version: ProtocolVersion) -> Disconnect:
    if version is not _V5:
        _decode_empty(pos, end, "DISCONNECT")
        return _DISCONNECT
    code, properties = _decode_reason_and_properties(buf, pos, end, PacketType.DISCONNECT)
    return Disconnect(reason_code=code, properties=properties)


def _decode_auth(buf: Buffer, pos: int, end: int, version: ProtocolVersion) -> Auth:
    if version is not _V5:
        raise MalformedPacket(f"packet type 15 (AUTH) is reserved in {version.name}")
    code, properties = _decode_reason_and_properties(buf, pos, end, PacketType.AUTH)
    return Auth(reason_code=code, properties=properties)


def _publish_flags(first: int) -> tuple[QoS, bool, bool] | None:
    qos = (first >> 1) & 0x03
    dup = first & 0x08 != 0
    if first >> 4 != PacketType.PUBLISH or qos == 3 or (dup and not qos):
        return None
    return _QOS[qos], first & 0x01 == 1, dup


# QoS, RETAIN and DUP by the first byte of a PUBLISH; None for the first byte of
# another packet type and for a PUBLISH with invalid flags.
_PUBLISH_FLAGS: Final = tuple(_publish_flags(first) for first in range(256))


def _refuse_publish_flags(first: int) -> NoReturn:
    if (first >> 1) & 0x03 == 3:
        raise MalformedPacket("PUBLISH: QoS 3 [MQTT-3.3.1-4]")
    raise MalformedPacket("PUBLISH: DUP set on a QoS 0 message [MQTT-3.3.1-2]")


_PINGREQ: Final = PingReq()
_PINGRESP: Final = PingResp()
_DISCONNECT: Final = Disconnect()

# Why an incomplete buffer may hold no more than this many bytes before the
# fixed header is complete: 1 type byte and at most 4 length bytes.
_MAX_FIXED_HEADER: Final = 5


class Decoder:
    """Incremental decoder: bytes in, packets out.

    Args:
        protocol_version: the version to decode. ``None`` for the server side
            of a connection: the decoder then accepts only CONNECT
            [MQTT-3.1.0-1] and learns the version from it. It can also be set
            later through :attr:`protocol_version`.
        max_packet_size: largest packet accepted, in bytes, fixed header
            included. A larger packet raises
            :class:`~emqtt_core.exceptions.PacketTooLarge` as soon as its fixed
            header has arrived, before its body is buffered.

    The decoder keeps bytes until they form a complete packet; bytes never get
    lost or decoded twice. After a :class:`~emqtt_core.exceptions.ProtocolError`
    the stream cannot be resynchronised: every later call raises the same error.
    """

    __slots__ = ("_buffer", "_error", "_max_packet_size", "_position", "_version")

    def __init__(
        self,
        protocol_version: ProtocolVersion | int | None = None,
        *,
        max_packet_size: int = MAX_PACKET_SIZE,
    ) -> None:
        self._buffer: bytes | bytearray = b""
        self._position = 0
        self._error: ProtocolError | None = None
        self._version: ProtocolVersion | None = None
        self._max_packet_size = MAX_PACKET_SIZE
        self.protocol_version = protocol_version
        self.max_packet_size = max_packet_size

    @property
    def protocol_version(self) -> ProtocolVersion | None:
        """The protocol version decoded; ``None`` until a server side learns it."""
        return self._version

    @protocol_version.setter
    def protocol_version(self, value: ProtocolVersion | int | None) -> None:
        if value is None:
            self._version = None
            return
        version = _VERSIONS.get(value) if type(value) in (int, ProtocolVersion) else None
        if version is None:
            raise UsageError(f"unknown protocol version {value!r}")
        self._version = version

    @property
    def max_packet_size(self) -> int:
        """Largest packet accepted, in bytes (fixed header included)."""
        return self._max_packet_size

    @max_packet_size.setter
    def max_packet_size(self, value: int) -> None:
        if type(value) is not int or not 2 <= value <= MAX_PACKET_SIZE:
            raise UsageError(f"max_packet_size must be from 2 to {MAX_PACKET_SIZE}, not {value!r}")
        self._max_packet_size = value

    @property
    def buffered(self) -> int:
        """Number of bytes received and not yet decoded."""
        return len(self._buffer) - self._position

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        """Append received bytes. Call :meth:`next_packet` afterwards.

        Raises:
            UsageError: ``data`` is not bytes-like.
        """
        if self._error is not None:
            raise self._error
        if type(data) is not bytes:
            # A copy: the caller may reuse a bytearray or the memory behind a view.
            data = as_bytes(data, "feed() data")
        buffer = self._buffer
        position = self._position
        if position >= len(buffer):
            # Everything before was decoded: adopt the new bytes without a copy.
            self._buffer = data
            self._position = 0
            return
        if not data:
            return
        if not isinstance(buffer, bytearray):
            buffer = bytearray(memoryview(buffer)[position:])
            self._position = 0
        elif position > len(buffer) >> 1:
            # Drop the decoded half; amortised, each byte is moved at most once.
            del buffer[:position]
            self._position = 0
        buffer += data
        self._buffer = buffer

    def next_packet(self) -> Packet | None:
        """Return the next complete packet, or ``None`` if more bytes are needed.

        Raises:
            ProtocolError: the bytes do not form a valid packet; its
                ``reason_code`` says why (0x81 malformed, 0x82 protocol error,
                0x95 packet too large, ...).
        """
        if self._error is not None:
            raise self._error
        buffer = self._buffer
        position = self._position
        try:
            first = buffer[position]
            length = buffer[position + 1]
            if length >= 0x80:
                byte = buffer[position + 2]
        except IndexError:
            return None  # the fixed header is incomplete
        if length < 0x80:
            start = position + 2
        elif 0 < byte < 0x80:
            # Two-byte remaining length (128 to 16383 bytes), the next most common.
            length = (length & 0x7F) | (byte << 7)
            start = position + 3
        else:
            header = self._read_length(buffer, position)
            if header is None:
                return None
            length, start = header
        end = start + length
        if end - position > self._max_packet_size:
            self._fail(
                PacketTooLarge(
                    f"packet of {end - position} bytes is over the maximum packet size "
                    f"{self._max_packet_size}"
                )
            )
        if end > len(buffer):
            return None
        version = self._version
        flags = _PUBLISH_FLAGS[first]
        if flags is None or version is None:
            ack = _ACK_CLASSES_BY_FIRST_BYTE[first]
            packet: Packet
            try:
                if ack is not None and version is not None:
                    packet = _decode_ack(buffer, start, end, ack, version)
                else:
                    packet = self._decode_other(buffer, start, end, first, version)
            except ProtocolError as exc:
                self._fail(exc)
            self._position = end
            return packet
        # PUBLISH, the packet that counts for throughput, is decoded right here.
        try:
            qos, retain, dup = flags
            if start + 2 > end:
                raise MalformedPacket("PUBLISH: truncated topic length")
            pos = start + 2 + _unpack_uint16(buffer, start)[0]
            if pos > end:
                raise MalformedPacket("PUBLISH: truncated topic")
            try:
                topic = buffer[start + 2 : pos].decode()
            except UnicodeDecodeError:
                raise MalformedPacket(
                    "PUBLISH: topic is not well-formed UTF-8 [MQTT-1.5.4-1]"
                ) from None
            if "\x00" in topic:
                raise MalformedPacket("PUBLISH: topic contains U+0000 [MQTT-1.5.4-2]")
            if "+" in topic or "#" in topic:
                _check_topic_name(topic, "PUBLISH")
            packet_id = None
            if qos:
                if pos + 2 > end:
                    raise MalformedPacket("PUBLISH: truncated packet identifier")
                packet_id = _unpack_uint16(buffer, pos)[0]
                pos += 2
                if not packet_id:
                    raise MalformedPacket("PUBLISH: packet identifier 0 [MQTT-2.2.1-3]")
            properties = NO_PROPERTIES
            if version is _V5:
                length = buffer[pos] if pos < end else 0x80
                if not length:  # the common case: no properties
                    pos += 1
                elif length < 0x80 and (stop := pos + 1 + length) <= end:
                    properties = _read_properties(buffer, pos + 1, stop, _PUBLISH_TABLE, "PUBLISH")
                    pos = stop
                else:
                    properties, pos = _decode_properties(
                        buffer, pos, end, _PUBLISH_TABLE, "PUBLISH"
                    )
                if not topic and properties.topic_alias is None:
                    # [MQTT-3.3.2-1] an empty topic needs a topic alias to stand for it.
                    raise ProtocolError("PUBLISH: empty topic without a topic alias")
            elif not topic:
                _check_topic_name(topic, "PUBLISH")
        except ProtocolError as exc:
            self._fail(exc)
        self._position = end
        payload = buffer[pos:end]
        # _PublishFields(...) written out: calling a class costs more than these stores.
        publish = _new_object(_PublishFields)
        publish.topic = topic
        publish.payload = payload if payload.__class__ is bytes else bytes(payload)
        publish.qos = qos
        publish.retain = retain
        publish.dup = dup
        publish.packet_id = packet_id
        publish.properties = properties
        publish.__class__ = Publish  # type: ignore[assignment]
        return publish  # type: ignore[return-value]

    def _read_length(self, buffer: Buffer, position: int) -> tuple[int, int] | None:
        # The remaining length is at most 4 bytes [MQTT-1.5.5]; fewer bytes than
        # that with the continuation bit still set means "wait for more".
        stop = min(len(buffer), position + _MAX_FIXED_HEADER)
        for index in range(position + 1, stop):
            if buffer[index] < 0x80:
                try:
                    return read_variable_byte_integer(buffer, position + 1, index + 1)
                except MalformedPacket as exc:
                    self._fail(exc)
        if stop - position == _MAX_FIXED_HEADER:
            self._fail(MalformedPacket("remaining length longer than four bytes"))
        return None

    def _fail(self, error: ProtocolError) -> NoReturn:
        self._error = error
        raise error

    def _decode_other(
        self, buffer: Buffer, start: int, end: int, first: int, version: ProtocolVersion | None
    ) -> Packet:
        ptype = first >> 4
        flags = first & 0x0F
        if ptype == PacketType.CONNECT:
            if flags:
                raise MalformedPacket("CONNECT: reserved flags are set [MQTT-2.2.2-2]")
            packet = _decode_connect(buffer, start, end)
            self._version = packet.protocol_version
            return packet
        if version is None:
            raise ProtocolError(f"expected CONNECT first, got packet type {ptype} [MQTT-3.1.0-1]")
        if not ptype:
            raise MalformedPacket("packet type 0 is reserved")
        if ptype == PacketType.PUBLISH:
            _refuse_publish_flags(first)  # the valid ones are decoded in next_packet()
        packet_type = PacketType(ptype)
        if flags != _FIXED_FLAGS.get(packet_type, 0):
            raise MalformedPacket(
                f"{packet_type.name}: reserved flags are 0x{flags:X} [MQTT-2.2.2-2]"
            )
        if packet_type is PacketType.PINGREQ:
            _decode_empty(start, end, "PINGREQ")
            return _PINGREQ
        if packet_type is PacketType.PINGRESP:
            _decode_empty(start, end, "PINGRESP")
            return _PINGRESP
        return _OTHER_DECODERS[packet_type](buffer, start, end, version)


_OTHER_DECODERS: Final[dict[PacketType, Callable[[Buffer, int, int, ProtocolVersion], Packet]]] = {
    PacketType.CONNACK: _decode_connack,
    PacketType.SUBSCRIBE: _decode_subscribe,
    PacketType.SUBACK: _decode_suback,
    PacketType.UNSUBSCRIBE: _decode_unsubscribe,
    PacketType.UNSUBACK: _decode_unsuback,
    PacketType.DISCONNECT: _decode_disconnect,
    PacketType.AUTH: _decode_auth,
}
