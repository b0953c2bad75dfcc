"""AMF0, the value encoding of RTMP commands (connect, createStream, publish, onStatus).

Only what RTMP encoders send and what we answer is supported: numbers, booleans,
strings, objects, null/undefined, ECMA and strict arrays, dates. Anything else raises
``AMFError`` so a malformed command ends the connection instead of being guessed at.
"""

from __future__ import annotations

import struct


class AMFError(ValueError):
    pass


NUMBER, BOOLEAN, STRING, OBJECT, NULL, UNDEFINED = 0x00, 0x01, 0x02, 0x03, 0x05, 0x06
ECMA_ARRAY, OBJECT_END, STRICT_ARRAY, DATE, LONG_STRING = 0x08, 0x09, 0x0A, 0x0B, 0x0C
MAX_DEPTH = 16


def decode_all(data: bytes) -> list:
    """Decode every value in ``data`` (a command is a sequence of values)."""
    values, pos = [], 0
    while pos < len(data):
        value, pos = _decode(data, pos, 0)
        values.append(value)
    return values


def _need(data: bytes, pos: int, n: int) -> None:
    if pos + n > len(data):
        raise AMFError("truncated AMF0 value")


def _string(data: bytes, pos: int, long: bool = False) -> tuple[str, int]:
    size_len = 4 if long else 2
    _need(data, pos, size_len)
    (length,) = struct.unpack_from(">I" if long else ">H", data, pos)
    pos += size_len
    _need(data, pos, length)
    return data[pos : pos + length].decode("utf-8", "replace"), pos + length


def _properties(data: bytes, pos: int, depth: int) -> tuple[dict, int]:
    result = {}
    while True:
        key, pos = _string(data, pos)
        _need(data, pos, 1)
        if key == "" and data[pos] == OBJECT_END:
            return result, pos + 1
        result[key], pos = _decode(data, pos, depth + 1)


def _decode(data: bytes, pos: int, depth: int):
    if depth > MAX_DEPTH:
        raise AMFError("AMF0 value nested too deeply")
    _need(data, pos, 1)
    marker, pos = data[pos], pos + 1
    if marker == NUMBER:
        _need(data, pos, 8)
        return struct.unpack_from(">d", data, pos)[0], pos + 8
    if marker == BOOLEAN:
        _need(data, pos, 1)
        return data[pos] != 0, pos + 1
    if marker == STRING:
        return _string(data, pos)
    if marker == LONG_STRING:
        return _string(data, pos, long=True)
    if marker == OBJECT:
        return _properties(data, pos, depth)
    if marker == ECMA_ARRAY:
        _need(data, pos, 4)
        return _properties(data, pos + 4, depth)
    if marker == STRICT_ARRAY:
        _need(data, pos, 4)
        (count,) = struct.unpack_from(">I", data, pos)
        pos += 4
        if count > len(data):
            raise AMFError("AMF0 array longer than its message")
        items = []
        for _ in range(count):
            item, pos = _decode(data, pos, depth + 1)
            items.append(item)
        return items, pos
    if marker in (NULL, UNDEFINED):
        return None, pos
    if marker == DATE:
        _need(data, pos, 10)
        return struct.unpack_from(">d", data, pos)[0], pos + 10
    raise AMFError(f"unsupported AMF0 marker {marker:#x}")


def encode(*values) -> bytes:
    return b"".join(_encode(v) for v in values)


def _encode_key(key: str) -> bytes:
    raw = key.encode()
    return struct.pack(">H", len(raw)) + raw


def _encode(value) -> bytes:
    if value is None:
        return bytes([NULL])
    if isinstance(value, bool):
        return bytes([BOOLEAN, 1 if value else 0])
    if isinstance(value, int | float):
        return bytes([NUMBER]) + struct.pack(">d", float(value))
    if isinstance(value, str):
        raw = value.encode()
        if len(raw) > 0xFFFF:
            return bytes([LONG_STRING]) + struct.pack(">I", len(raw)) + raw
        return bytes([STRING]) + struct.pack(">H", len(raw)) + raw
    if isinstance(value, dict):
        body = b"".join(_encode_key(k) + _encode(v) for k, v in value.items())
        return bytes([OBJECT]) + body + b"\x00\x00" + bytes([OBJECT_END])
    if isinstance(value, list | tuple):
        return bytes([STRICT_ARRAY]) + struct.pack(">I", len(value)) + b"".join(_encode(v) for v in value)
    raise AMFError(f"cannot encode {type(value).__name__} in AMF0")
