#!/usr/bin/env python3
"""Turns Debian's `fortunes` package (ordinary English quotations, sayings and jokes; installed by
scripts/env.sh) into a JSONL corpus, one {"text": …} line per fortune, for training the main job's SAE.

Usage: make_fortunes_corpus.py [FORTUNE_DIR] OUTPUT.jsonl
Skips the ASCII-art, offensive-prone and non-prose files; the order is fixed (sorted files, file order
within a file) so that the corpus, and everything trained on it, is reproducible.
"""
import json
import os
import sys

SKIP = {"ascii-art", "art", "ethnic", "perl", "translate-me", "debian", "linux", "linuxcookie", "zippy", "knghtbrd"}


def main() -> None:
    args = sys.argv[1:]
    src = args[0] if len(args) == 2 else "/usr/share/games/fortunes"
    out = args[-1]
    names = sorted(n for n in os.listdir(src) if "." not in n and n not in SKIP)
    if not names:
        sys.exit(f"error: no fortune files in {src} (install Debian's `fortunes` package)")
    count = 0
    tmp = out + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        for name in names:
            text = open(os.path.join(src, name), encoding="utf-8", errors="replace").read()
            for entry in text.split("\n%\n"):
                entry = " ".join(entry.replace("\t", " ").split())
                if len(entry) >= 20:
                    f.write(json.dumps({"text": entry, "source": name}, ensure_ascii=False) + "\n")
                    count += 1
    os.replace(tmp, out)
    print(f"{count} fortunes from {len(names)} files -> {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
