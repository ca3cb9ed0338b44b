#!/usr/bin/env python3
"""What a terminal COLUMNS wide shows for a typescript (`script` output): a small emulator of the control
sequences phasegate writes (CR, LF, ESC[K, SGR colours). Prints one JSON object: the screen lines and the
lines that ran past the last column and wrapped. Used by tests/e2e/test_cli_conventions.sh."""
import json
import re
import sys

cols = int(sys.argv[2])
data = open(sys.argv[1], "rb").read().decode("utf-8", "replace")
# `script` writes a header and a footer line of its own; drop them.
data = re.sub(r"^Script started[^\n]*\n", "", data)
data = re.sub(r"\nScript done[^\n]*\n?$", "\n", data)
lines, row, col, wrapped = [[]], 0, 0, []
i = 0
while i < len(data):
    c = data[i]
    if c == "\x1b":
        m = re.match(r"\x1b\[([0-9;?]*)([@-~])", data[i:])
        if m:
            if m.group(2) == "K":
                del lines[row][col:]
            i += len(m.group(0))
            continue
    if c == "\r":
        col = 0
    elif c == "\n":
        row += 1
        col = 0
        if row == len(lines):
            lines.append([])
    elif c >= " ":
        if col == cols:  # autowrap: the text went past the last column
            wrapped.append("".join(lines[row]))
            row += 1
            col = 0
            if row == len(lines):
                lines.append([])
        line = lines[row]
        line.extend(" " * (col - len(line)))
        if col < len(line):
            line[col] = c
        else:
            line.append(c)
        col += 1
    i += 1
print(json.dumps({"lines": ["".join(l) for l in lines], "wrapped": wrapped}))
