#!/usr/bin/python3
"""Writes data/invalid_utf8.expected.tsv: for every line of tests/data/corpus/invalid_utf8.bin,
the offset of the first invalid byte (Python's strict decoder, UnicodeDecodeError.start) and the
hex of bytes.decode("utf-8", "replace") re-encoded (one U+FFFD per maximal invalid subpart).
Python is the independent oracle for qkv's UTF-8 validation and repair."""
import pathlib

root = pathlib.Path(__file__).resolve().parents[2]
lines = (root / "tests/data/corpus/invalid_utf8.bin").read_bytes().split(b"\n")
if lines and lines[-1] == b"":
    lines.pop()
out = ["line\tfirst_invalid\treplaced_hex"]
for i, raw in enumerate(lines):
    try:
        raw.decode("utf-8")
        first = len(raw)
    except UnicodeDecodeError as e:
        first = e.start
    out.append(f"{i}\t{first}\t{raw.decode('utf-8', 'replace').encode('utf-8').hex()}")
(pathlib.Path(__file__).parent / "data/invalid_utf8.expected.tsv").write_text("\n".join(out) + "\n")
