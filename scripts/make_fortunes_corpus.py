#!/usr/bin/env python3
"""Turns Debian's `fortunes` package (ordinary English quotations, sayings and jokes; installed by
scripts/env.sh) into a JSONL corpus, one {"text": …} line per fortune, for training the main job's SAE.

Usage: make_fortunes_corpus.py [--max-entries N] [FORTUNE_DIR] OUTPUT.jsonl
Skips the ASCII-art, offensive-prone and non-prose files; the order is fixed (sorted files, file order
within a file) so that the corpus, and everything trained on it, is reproducible.
"""
import itertools
import json
import os
import sys

SKIP = {"ascii-art", "art", "ethnic", "perl", "translate-me", "debian", "linux", "linuxcookie", "zippy", "knghtbrd"}


def main() -> None:
    args = sys.argv[1:]
    limit = None
    if args[:1] == ["--max-entries"]:
        limit = int(args[1])
        args = args[2:]
    src = args[0] if len(args) == 2 else "/usr/share/games/fortunes"
    out = args[-1]
    names = sorted(n for n in os.listdir(src) if "." not in n and n not in SKIP)
    if not names:
        sys.exit(f"error: no fortune files in {src} (install Debian's `fortunes` package)")
    per_file = []
    for name in names:
        text = open(os.path.join(src, name), encoding="utf-8", errors="replace").read()
        entries = [" ".join(e.replace("\t", " ").split()) for e in text.split("\n%\n")]
        per_file.append([(e, name) for e in entries if len(e) >= 20])
    # Round-robin over the files, so that a prefix of the corpus (--max-entries) mixes every topic.
    rows = [row for group in itertools.zip_longest(*per_file) for row in group if row is not None]
    if limit is not None:
        rows = rows[:limit]
    count = len(rows)
    tmp = out + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        for entry, name in rows:
            f.write(json.dumps({"text": entry, "source": name}, ensure_ascii=False) + "\n")
    os.replace(tmp, out)
    print(f"{count} fortunes from {len(names)} files -> {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
