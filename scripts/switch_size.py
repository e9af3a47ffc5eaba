#!/usr/bin/env python3
"""Checks that call control stays readable: no file in switch/src over
1,000 lines and no function over 80 (from its `fn` line to its closing
brace, rustfmt's layout). Prints each one over and exits 1 if any."""

import re
import sys
from pathlib import Path

MAX_FILE_LINES = 1000
MAX_FUNCTION_LINES = 80
FN = re.compile(r"^(\s*)(?:pub(?:\([a-z]+\))? )?(?:const )?(?:async )?fn (\w+)")


def main():
    root = Path(__file__).resolve().parent.parent / "switch" / "src"
    over = []
    for path in sorted(root.rglob("*.rs")):
        lines = path.read_text().split("\n")
        if len(lines) > MAX_FILE_LINES:
            over.append(f"{path}: {len(lines)} lines (at most {MAX_FILE_LINES})")
        index = 0
        while index < len(lines):
            match = FN.match(lines[index])
            if match and not lines[index].rstrip().endswith(";"):
                indent, name = match.groups()
                end = index
                while end < len(lines) and lines[end] != indent + "}":
                    end += 1
                length = end - index + 1
                if length > MAX_FUNCTION_LINES:
                    over.append(f"{path}:{index + 1}: fn {name} is {length} lines (at most {MAX_FUNCTION_LINES})")
                index = end
            index += 1
    for line in over:
        print(line, file=sys.stderr)
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
