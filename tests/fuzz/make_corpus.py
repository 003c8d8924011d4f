#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_request (tests/fuzz/corpus/): valid requests of every opcode.

Each seed is an input as fuzz_request.cc reads it: 4 contexts of 128 bytes (a 64-byte
ContextHeader, then 64 inline bytes), then the 512-byte request area. The header layout is
docs/PROTOCOL.md's (section 2). Run from anywhere; rewrites the corpus directory's files.
"""
import os
import struct

CONTEXTS, CONTEXT_SIZE, INLINE, AREA = 4, 128, 64, 512
PING, GET, PUT, DEL, SCAN, BEGIN, COMMIT, ABORT, BATCH, WATCH, UNWATCH = range(1, 12)
EXTERNAL, REVERSE, READ_ONLY, DURABILITY_ASYNC, KEYS_ONLY = 1, 2, 4, 8, 32
IF_ABSENT, IF_PRESENT, IF_EQUALS, IF_UNCHANGED_SINCE, BATCH_PUT, BATCH_DEL = 1, 2, 3, 4, 16, 17


def batch(conditions, operations):
    """A BATCH payload (docs/PROTOCOL.md, "Conditional batches"): entries (kind, key, value,
    csn), conditions first."""
    out = struct.pack("<II", len(conditions), len(operations))
    for kind, key, value, csn in conditions + operations:
        out += struct.pack("<B3xIIIQ", kind, len(key), len(value), 0, csn) + key + value
    return out


def context(opcode, flags=0, parts=(b"", b"", b""), limit=0, txn=0, data_offset=0):
    """A 64-byte header: state, opcode, flags, reserved, len[3], limit, txn, data_offset."""
    header = struct.pack("<IBBHIIIIQI", 1, opcode, flags, 0, *map(len, parts), limit, txn,
                         data_offset)
    return header.ljust(64, b"\0")


def seed(requests):
    """requests: up to 4 (opcode, kwargs) pairs; external payloads are packed in the area."""
    contexts, area = b"", b""
    for opcode, kw in requests:
        parts = kw.get("parts", (b"", b"", b""))
        payload = b"".join(parts)
        if kw.get("external"):
            offset = len(area)
            area += payload.ljust((len(payload) + 63) // 64 * 64, b"\0")
            header = context(opcode, kw.get("flags", 0) | EXTERNAL, parts, kw.get("limit", 0),
                             kw.get("txn", 0), offset)
            contexts += header + b"\0" * INLINE
        else:
            header = context(opcode, kw.get("flags", 0), parts, kw.get("limit", 0),
                             kw.get("txn", 0))
            contexts += header + payload.ljust(INLINE, b"\0")
    assert len(area) <= AREA
    return contexts.ljust(CONTEXTS * CONTEXT_SIZE, b"\0") + area.ljust(AREA, b"\0")


SEEDS = {
    "ping": [(PING, {})],
    "get-inline": [(GET, {"parts": (b"alpha", b"", b"")})],
    "get-external": [(GET, {"parts": (b"k" * 40, b"", b""), "external": True, "txn": 3})],
    "put-inline": [(PUT, {"parts": (b"key", b"value", b"")})],
    "put-external": [(PUT, {"parts": (b"key", b"v" * 300, b""), "external": True})],
    "del": [(DEL, {"parts": (b"gone", b"", b"")})],
    "scan-empty": [(SCAN, {"limit": 1})],
    "scan-bounds": [(SCAN, {"parts": (b"a", b"m", b"ab"), "limit": 100})],
    "scan-reverse-external": [
        (SCAN, {"parts": (b"s" * 48, b"e" * 48, b"p"), "flags": REVERSE, "limit": 1000,
                "external": True})],
    "begin-read-only": [(BEGIN, {"flags": READ_ONLY})],
    "commit": [(COMMIT, {"txn": 1})],
    "abort": [(ABORT, {"txn": 0xFFFFFFFFFFFFFFFF})],
    "batch-inline": [(BATCH, {"parts": (batch([(IF_ABSENT, b"k", b"", 0)],
                                             [(BATCH_PUT, b"k", b"v", 0)]), b"", b"")})],
    "batch-external": [
        (BATCH, {"parts": (batch([(IF_EQUALS, b"a", b"1", 0), (IF_PRESENT, b"b", b"", 0),
                                  (IF_UNCHANGED_SINCE, b"c", b"", 77)],
                                 [(BATCH_PUT, b"a", b"2" * 40, 0), (BATCH_DEL, b"b", b"", 0)]),
                           b"", b""),
                 "flags": DURABILITY_ASYNC, "external": True})],
    "watch-now": [(WATCH, {"parts": (b"", b"", b"user/"), "txn": 0xFFFFFFFFFFFFFFFF})],
    "watch-range-from": [(WATCH, {"parts": (b"a", b"m", b""), "flags": KEYS_ONLY, "txn": 4096})],
    "unwatch": [(UNWATCH, {"limit": 3})],
    "mixed": [(BEGIN, {}), (PUT, {"parts": (b"k", b"v" * 200, b""), "external": True, "txn": 9}),
              (GET, {"parts": (b"k", b"", b""), "txn": 9}), (COMMIT, {"txn": 9})],
}

if __name__ == "__main__":
    directory = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
    os.makedirs(directory, exist_ok=True)
    for name, requests in SEEDS.items():
        with open(os.path.join(directory, name), "wb") as f:
            f.write(seed(requests))
