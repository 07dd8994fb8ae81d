"""An independent decoder written from docs/FORMAT.md alone (no TeleCrunch packing code).

It reads a shard file and the canonical schema document, and returns records as dicts. It
exists to prove the document is enough to write a decoder; tests compare it with TeleCrunch.
"""

from __future__ import annotations

import gzip
import struct

import lz4.frame
import xxhash
import zstandard

PRESETS = {
    "ascii": "".join(chr(c) for c in range(0x20, 0x7F)),
    "alnum": "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
    "alpha": "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
    "digits": "0123456789",
    "hex": "0123456789abcdef",
}
UNITS = {"ns": 1, "us": 10**3, "ms": 10**6, "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9,
         "d": 86400 * 10**9, "w": 7 * 86400 * 10**9}


def duration(text: str) -> int:
    for unit in sorted(UNITS, key=len, reverse=True):
        if text.endswith(unit) and text[: -len(unit)].isdigit():
            return int(text[: -len(unit)]) * UNITS[unit]
    raise ValueError(text)


def instant(text: str) -> int:
    import datetime as dt

    when = dt.datetime.strptime(text.rstrip("Z").split(".")[0], "%Y-%m-%dT%H:%M:%S")
    frac = text.rstrip("Z").split(".")[1] if "." in text else ""
    seconds = int(when.replace(tzinfo=dt.UTC).timestamp())
    return seconds * 10**9 + int(frac.ljust(9, "0") or 0)


def bit_length(n: int) -> int:
    return n.bit_length()


def frame_elements(schema: dict, kind_name: str) -> list[tuple]:
    """(name, kind of element, width, decode info) in frame order."""
    kinds = list(schema["kinds"])
    out = [("kind", "code", bit_length(len(kinds) - 1), None),
           (schema["time"]["field"], "time", schema["time"]["bits"], None),
           (schema["sources"]["field"], "code", bit_length(schema["sources"]["count"] - 1), None)]
    for name, f in schema["kinds"][kind_name]["fields"].items():
        t = f["type"]
        if t == "int":
            out.append((name, "int", f.get("bits") or bit_length(f["max"] - f["min"]), f))
        elif t == "bool":
            out.append((name, "bool", 1, f))
        elif t == "enum":
            out.append((name, "enum", bit_length(len(f["values"]) - 1), f))
        elif t == "timestamp":
            lo, hi, res = instant(f["min"]), instant(f["max"]), duration(f["resolution"])
            out.append((name, "timestamp", f.get("bits") or bit_length((hi - lo) // res),
                        (lo, res)))
        elif t == "float":
            enc = f.get("encoding", "quantized")
            if enc == "binary32":
                out.append((name, "f32", 32, f))
            elif enc == "binary64":
                out.append((name, "f64", 64, f))
            else:
                codes = round((f["max"] - f["min"]) / f["resolution"])
                out.append((name, "quantized", f.get("bits") or bit_length(codes), f))
        elif t == "string":
            limit = f.get("max_length")
            if limit is None:
                limit = max(len(v) for v in f["values"])
            alphabet = PRESETS.get(f.get("alphabet", "ascii"), f.get("alphabet", "ascii"))
            out.append((name, "string", bit_length(limit), alphabet))
    return out


def decode_shard(data: bytes, schema: dict) -> list[dict]:
    magic, version, size, codec = struct.unpack_from("<8sHHB", data, 0)
    assert magic == b"TCSHARD\x00" and version == 1 and size == 64
    assert struct.unpack_from("<Q", data, 56)[0] == xxhash.xxh64(data[:56]).intdigest()
    index_offset, count, _, index_sum, fmagic = struct.unpack_from("<QIIQ8s", data, len(data) - 32)
    assert fmagic == b"TCFOOT\x00\x00"
    index = data[index_offset:index_offset + 24 * count]
    assert xxhash.xxh64(index).intdigest() == index_sum
    kinds = list(schema["kinds"])
    layouts = {name: frame_elements(schema, name) for name in kinds}
    records = []
    for i in range(count):
        first_id, offset, n, stored_size = struct.unpack_from("<QQII", index, 24 * i)
        (bmagic, bn, bfirst, base, nbits, raw_size, bstored,
         check) = struct.unpack_from("<4sIQqQIIQ", data, offset)
        assert (bmagic, bn, bfirst, bstored) == (b"TCBK", n, first_id, stored_size)
        stored = data[offset + 48:offset + 48 + stored_size]
        assert xxhash.xxh64(data[offset:offset + 40] + stored).intdigest() == check
        raw = {0: lambda b: b, 1: lz4.frame.decompress, 2: gzip.decompress,
               3: zstandard.ZstdDecompressor().decompress}[codec](stored)
        assert len(raw) == raw_size == (nbits + 7) // 8
        stream = int.from_bytes(raw, "little")
        pos = 0

        def take(width: int, stream: int = stream) -> int:
            nonlocal pos
            value = (stream >> pos) & ((1 << width) - 1)
            pos += width
            return value

        for j in range(n):
            kind = kinds[(stream >> pos) & ((1 << layouts[kinds[0]][0][2]) - 1)]
            record = {"id": first_id + j}
            for name, what, width, info in layouts[kind]:
                code = take(width)
                if what == "code":
                    record[name] = kinds[code] if name == "kind" else code
                elif what == "time":
                    record[name] = base + code * duration(schema["time"]["resolution"])
                elif what == "int":
                    record[name] = info["min"] + code
                elif what == "bool":
                    record[name] = bool(code)
                elif what == "enum":
                    record[name] = info["values"][code]
                elif what == "timestamp":
                    record[name] = info[0] + code * info[1]
                elif what == "f32":
                    record[name] = struct.unpack("<f", struct.pack("<I", code))[0]
                elif what == "f64":
                    record[name] = struct.unpack("<d", struct.pack("<Q", code))[0]
                elif what == "quantized":
                    record[name] = info["min"] + code * info["resolution"]
                elif what == "string":
                    char_bits = bit_length(len(info) - 1)
                    record[name] = "".join(info[take(char_bits)] for _ in range(code))
            records.append(record)
        assert pos == nbits
    return records
