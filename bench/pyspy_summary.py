"""Summarise py-spy's collapsed stacks (`py-spy record --format raw`) of gunicorn workers:
where the server's time goes, as inclusive and self percentages of all samples.

    python -m bench.pyspy_summary bench/results/pyspy-<stamp>-b-*.txt [--top 30] [--match apps/]
"""

import argparse
import re
from collections import Counter
from pathlib import Path

FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")


def short(frame: str, keep_line: bool) -> str:
    m = FRAME.match(frame)
    if not m:
        return frame
    path = m["file"]
    for marker in ("site-packages/", "/work/main/", "lib/python3.11/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{m['func']} ({path}{':' + m['line'] if keep_line and m['line'] else ''})"


def load(paths: list[Path], keep_line: bool) -> tuple[Counter, Counter, int]:
    inclusive, self_time, total = Counter(), Counter(), 0
    for path in paths:
        for line in path.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            if not stack or not count.isdigit():
                continue
            n = int(count)
            frames = [short(f, keep_line) for f in stack.split(";")]
            total += n
            for f in set(frames):
                inclusive[f] += n
            self_time[frames[-1]] += n
    return inclusive, self_time, total


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--match", default="", help="only frames whose text contains this (inclusive list)")
    parser.add_argument("--lines", action="store_true", help="keep line numbers (one row per call site)")
    args = parser.parse_args(argv)
    inclusive, self_time, total = load(args.files, args.lines)
    print(f"{total:,} samples in {len(args.files)} file(s)\n\ninclusive:")
    rows = [(f, n) for f, n in inclusive.most_common() if args.match in f][:args.top]
    for f, n in rows:
        print(f"  {100 * n / total:5.1f}%  {f}")
    print("\nself:")
    for f, n in self_time.most_common(args.top):
        print(f"  {100 * n / total:5.1f}%  {f}")


if __name__ == "__main__":
    main()
