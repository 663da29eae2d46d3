"""How deeply a JSON or TOML text nests its arrays and tables, found in one linear pass without parsing, so
that the grading process refuses a deeply nested document before a recursive parser (json, tomllib) would
exhaust Python's stack on it."""
from __future__ import annotations


def json_depth(text: str) -> int:
    """The deepest nesting of arrays and objects in JSON text; brackets inside strings do not count."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def toml_depth(text: str) -> int:
    """The deepest nesting of arrays and inline tables in TOML text; brackets inside strings (basic,
    literal, multi-line) and comments do not count. A table header such as [problem3] opens no nesting."""
    depth = deepest = 0
    i, n = 0, len(text)
    at_line_start = True
    while i < n:
        ch = text[i]
        if ch in "\"'":
            quote = ch * 3 if text.startswith(ch * 3, i) else ch
            i += len(quote)
            while i < n and not text.startswith(quote, i):
                i += 2 if quote[0] == '"' and text[i] == "\\" else 1
            i += len(quote)
            at_line_start = False
            continue
        if ch == "#":
            while i < n and text[i] != "\n":
                i += 1
            continue
        if ch == "\n":
            at_line_start = True
        elif ch in "[{" and not (at_line_start and depth == 0):  # "[table]" / "[[array.of.tables]]" headers
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}" and depth > 0:
            depth -= 1
        elif not ch.isspace():
            at_line_start = False
        i += 1
    return deepest
