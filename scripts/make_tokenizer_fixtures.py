#!/usr/bin/env python3
"""Writes fixtures/tokenizer/gpt2_goldens.json: GPT-2 token ids and decoded text computed by
Hugging Face `tokenizers` (cross-checked against `transformers.PreTrainedTokenizerFast`) from the
real GPT-2 files in <shared data>/gpt2-tokenizer/tokenizer.json.

Usage (from the repository root):
    python3 scripts/make_tokenizer_fixtures.py [SHARED_DATA_DIR]
When `tokenizers`/`transformers` are not importable, the script re-runs itself under
$ISAERFT_REF_PYTHON (default /work/venv/ref/bin/python3).
The shared data folder defaults to $ISAERFT_SHARED_DATA, else ../shared/data.
Requires: pip install transformers==5.23.0 tokenizers  (versions are recorded in the output).

Sections of the output (all ids are without BOS/EOS: add_special_tokens=False):
  cases            text, ids (specials parsed, HF default), ids_no_special (encode_special_tokens=True),
                   decoded (decode(ids, skip_special_tokens=False)), decoded_skip (skip=True)
  decode_cases     id lists (some cut inside a UTF-8 character) and their lossy decodes
  prefix_space     pre_tokenizer ByteLevel(add_prefix_space=True): text, ids
  ignore_merges    two tiny synthetic byte-level BPE tokenizer.json files (ignore_merges false/true,
                   merges as [A, B] pairs) and their ids
  added_tokens     extra added tokens (lstrip/rstrip/single_word flags, non-special ones) as the JSON
                   text of tokenizer.json `added_tokens` entries, and text, ids, ids_no_special,
                   decoded_skip computed with them
"""
import json
import os
import sys
from pathlib import Path

try:
    import tokenizers
    import transformers
    from tokenizers import AddedToken, Tokenizer, pre_tokenizers
    from transformers import PreTrainedTokenizerFast
except ImportError:
    # Not in the reference environment: re-run under its interpreter when it exists.
    REF_PYTHON = os.environ.get("ISAERFT_REF_PYTHON", "/work/venv/ref/bin/python3")
    if os.path.exists(REF_PYTHON) and not os.environ.get("_ISAERFT_REEXEC"):
        os.environ["_ISAERFT_REEXEC"] = "1"   # (a venv python resolves to the same binary: guard, not realpath)
        os.execv(REF_PYTHON, [REF_PYTHON, *sys.argv])
    sys.exit("needs `pip install transformers==5.23.0 tokenizers` (or set ISAERFT_REF_PYTHON to such an interpreter)")

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("ISAERFT_SHARED_DATA", ROOT.parent / "shared" / "data"))
TOKENIZER_JSON = DATA / "gpt2-tokenizer" / "tokenizer.json"
OUT = ROOT / "fixtures" / "tokenizer" / "gpt2_goldens.json"

LONG_MIXED = (
    "## Release notes (v2.3.1)\n\n"
    "* Fixed `tokenize()` when input > 1,024 chars — see https://example.com/issues/42?x=1&y=2.\n"
    "* Naïve café owners' résumés: 50% off!!! Don't panic...\n"
    "\tdef f(x):\n\t\treturn x**2  # comment   \n"
    "Ünïcödé: Ελληνικά, Русский, עברית, العربية, हिन्दी, 中文, 日本語, 한국어 🎉🎉\n"
    "    indented    text\twith\t\ttabs  \r\n"
    "Numbers: 3.14159, 2.71828e-10, 0xDEADBEEF, 1_000_000, ¼½¾ ²³ ١٢٣\n"
)

TEXTS = [
    "", " ", "  ", "Hello world", "Hello, world!", " Hello", "   Hello", "Hello   ",
    "tabs\tand\ttabs", "\t\tdouble tab", "new\nline", "\n\n\nthree newlines", "mixed \t\n whitespace \n\n",
    "  \n  ", "\r\n windows\r\nline endings\r\n", "a \nb", "end with space ", "end with newline\n",
    "I'm you're we've they'll he'd it's don't", "I'M YOU'RE WE'VE THEY'LL HE'D IT'S DON'T 'S",
    "it\u2019s don\u2019t \u2018quoted\u2019 \u201cdouble\u201d", "''s double apostrophe", "'s at start", "rock'n'roll",
    "x'sy 're'", "\U0001F468\u200D\U0001F469\u200D\U0001F467\u200D\U0001F466 family",
    "\U0001F3F3\uFE0F\u200D\U0001F308 flag", "\U0001F44D\U0001F3FD thumbs", "\u2764\uFE0F heart",
    "你好，世界！", "日本語のテキストです。", "한국어 텍스트", "caf\u00e9", "cafe\u0301",
    "\u00e9 vs e\u0301", " \u0301x", "A\u030A\u0323", "3 33 333 3333 33333 123456789",
    "3.14159 1,000,000 0x1F -42 +7", "\u0663\u0664\u0665 Arabic-Indic", "\u216B roman \u00bd \u00be \u00b2",
    "<|endoftext|>", "Hello<|endoftext|>world", "Hello <|endoftext|> world", "a<|endoftext|><|endoftext|>b",
    "<|endoftext|> starts", "ends <|endoftext|>", "<|endoftext", "<|endoftext|>\n\n", " <|endoftext|>",
    "<|endoftext|><|endoftext|>", "\u00a0nbsp \u00a0", "\u3000ideographic\u3000space", "\u000b vertical tab",
    "\u001c\u001d\u001e\u001f separators", "\u0085 next line", "\u2028 line sep \u2029", "\x00\x01\x7f controls",
    "\u00ad soft hyphen", "Zero\u200bwidth\u200cjoin\u200d", "\U00011F04\U00011F05 Kawi (Unicode 15)",
    "\U0001FAE0 melting face", "x" * 300, " " * 40 + "deep indent", "!!!???...,,,;;;", "$$$ 100 \u20ac \u00a3",
    "e-mail: someone@example.org", "snake_case_name camelCaseName", "Ǆ ǅ ǆ title case", "ﬁ ligature",
    "Ａｂｃ fullwidth １２３", "\U0001D400\U0001D401 math bold", "\u0e20\u0e32\u0e29\u0e32\u0e44\u0e17\u0e22",
    "\u1780\u17d2\u1798\u17c2\u179a khmer", LONG_MIXED,
]

DECODE_TEXTS = ["\U0001F44D\U0001F3FD", "\u20ac100", "\u4f60\u597d", "\U0001F468\u200D\U0001F469"]

PREFIX_SPACE_TEXTS = ["", "Hello", " Hello", "Hello<|endoftext|>world", "<|endoftext|>x", "a <|endoftext|> b",
                      "\nline", "  two", "caf\u00e9 3.14"]

EXTRA_ADDED = [
    AddedToken("<mask>", lstrip=True, rstrip=False, single_word=False, normalized=False, special=True),
    AddedToken("[SEP]", lstrip=False, rstrip=True, single_word=False, normalized=False, special=True),
    AddedToken("<pad_long>", lstrip=True, rstrip=True, single_word=False, normalized=False, special=True),
    AddedToken("<pad", lstrip=False, rstrip=False, single_word=False, normalized=False, special=True),
]
EXTRA_ADDED_PLAIN = [
    AddedToken("cat", single_word=True, normalized=True, special=False),
    AddedToken("hello world", single_word=False, normalized=True, special=False),
    AddedToken("\u0120zork", normalized=False, special=False),   # decodes through ByteLevel: " zork"
    AddedToken("\u00e9!", normalized=False, special=False),      # U+E9 is the symbol of byte 0xE9: decodes to U+FFFD "!"
]
ADDED_TEXTS = [
    "the <mask> is", "x   <mask>y", "<mask><mask>", "  <mask>", "[SEP]   next", "a[SEP]b", "[SEP]\n\n",
    "a  <pad_long>  b", "<pad <pad_long> <pad_lo", "a cat sat", "concatenate", "cat", "cats", "cat_",
    "caf cat.", "cat's", "caté", "(cat)", "hello world!", "hello  world", "say hello world<mask>",
    "<|endoftext|> cat <mask>", "x\u0120zork y\u00e9!", "e\u0301! \u00e9!",
]


def byte_symbols() -> list:
    """GPT-2's byte -> printable character table (bytes_to_unicode in openai/gpt-2 encoder.py)."""
    direct = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
    table, extra = {}, 0
    for b in range(256):
        if b in direct:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return [table[b] for b in range(256)]


def synthetic_case(ignore_merges: bool) -> dict:
    """A tiny byte-level BPE (256 byte symbols + 5 merged tokens, merges stored as [A, B] pairs)
    where "abc" and "\u0120abc" are vocabulary tokens that the merges cannot build, so
    `ignore_merges` changes the ids."""
    from tokenizers import decoders, models

    symbols = byte_symbols()
    vocab = {s: i for i, s in enumerate(symbols)}
    for extra in ["ab", "bc", "abc", "\u0120a", "\u0120abc"]:
        vocab[extra] = len(vocab)
    merges = [("a", "b"), ("b", "c"), ("\u0120", "a")]
    model = models.BPE(vocab=vocab, merges=merges, ignore_merges=ignore_merges)
    tok = Tokenizer(model)
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    texts = ["abc", "ab", "bc", " abc", "abcabc", "xabc abc", "abc\n", "cab"]
    return {"ignore_merges": ignore_merges, "tokenizer_json": tok.to_str(),
            "cases": [{"text": t, "ids": tok.encode(t, add_special_tokens=False).ids} for t in texts]}


def main() -> None:
    if not TOKENIZER_JSON.exists():
        sys.exit(f"missing {TOKENIZER_JSON}")
    tok = Tokenizer.from_file(str(TOKENIZER_JSON))
    tok_plain = Tokenizer.from_file(str(TOKENIZER_JSON))
    tok_plain.encode_special_tokens = True
    fast = PreTrainedTokenizerFast(tokenizer_file=str(TOKENIZER_JSON))

    shakespeare = DATA / "text" / "tinyshakespeare.txt"
    texts = list(TEXTS)
    if shakespeare.exists():
        texts.append(shakespeare.read_text(encoding="utf-8")[:3000])

    cases = []
    for text in texts:
        ids = tok.encode(text, add_special_tokens=False).ids
        fast_ids = fast(text, add_special_tokens=False)["input_ids"]
        assert ids == fast_ids, f"tokenizers and transformers disagree on {text!r}"
        cases.append({
            "text": text,
            "ids": ids,
            "ids_no_special": tok_plain.encode(text, add_special_tokens=False).ids,
            "decoded": tok.decode(ids, skip_special_tokens=False),
            "decoded_skip": tok.decode(ids, skip_special_tokens=True),
        })

    decode_cases = []
    for text in DECODE_TEXTS:
        ids = tok.encode(text, add_special_tokens=False).ids
        for n in range(1, len(ids) + 1):
            decode_cases.append({"ids": ids[:n], "decoded": tok.decode(ids[:n], skip_special_tokens=False)})
    symbols = byte_symbols()
    vocab = tok.get_vocab()
    invalid_utf8 = [[0x80], [0x80, 0x80], [0xE2, 0x82], [0xF0, 0x9F, 0x98, 0x41], [0xC0, 0xAF], [0xED, 0xA0, 0x80],
                    [0xF4, 0x90, 0x80, 0x80], [0xFF, 0x41, 0xFE], [0xE2, 0x28, 0xA1], [0x61, 0xF1, 0x80, 0x80, 0xE1, 0x80, 0xC2, 0x62]]
    for raw in invalid_utf8:
        ids = [vocab[symbols[b]] for b in raw]
        decode_cases.append({"ids": ids, "decoded": tok.decode(ids, skip_special_tokens=False)})
    for ids in ([50256, 15496, 50256], [220, 50256, 220]):
        decode_cases.append({"ids": ids, "decoded": tok.decode(ids, skip_special_tokens=False),
                             "decoded_skip": tok.decode(ids, skip_special_tokens=True)})

    tok_prefix = Tokenizer.from_file(str(TOKENIZER_JSON))
    tok_prefix.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True, trim_offsets=True, use_regex=True)
    prefix_space = [{"text": t, "ids": tok_prefix.encode(t, add_special_tokens=False).ids} for t in PREFIX_SPACE_TEXTS]

    ignore_merges = [synthetic_case(ignore) for ignore in (False, True)]

    tok_added = Tokenizer.from_file(str(TOKENIZER_JSON))
    tok_added.add_special_tokens(EXTRA_ADDED)
    tok_added.add_tokens(EXTRA_ADDED_PLAIN)
    serialized = json.loads(tok_added.to_str())
    entries = [e for e in serialized["added_tokens"] if e["id"] != 50256]
    tok_added_plain = Tokenizer.from_str(tok_added.to_str())
    tok_added_plain.encode_special_tokens = True
    added = {
        "entries_json": json.dumps(entries),
        "cases": [{"text": t, "ids": tok_added.encode(t, add_special_tokens=False).ids,
                   "ids_no_special": tok_added_plain.encode(t, add_special_tokens=False).ids,
                   "decoded_skip": tok_added.decode(tok_added.encode(t, add_special_tokens=False).ids,
                                                    skip_special_tokens=True)}
                  for t in ADDED_TEXTS],
    }

    out = {
        "source": "scripts/make_tokenizer_fixtures.py over gpt2-tokenizer/tokenizer.json "
                  "(sha256 8414cab924d8b9b33013f0d221c5862f365ee9be39c5c2bfae8a5a9e970478a6)",
        "versions": {"tokenizers": tokenizers.__version__, "transformers": transformers.__version__,
                     "python": sys.version.split()[0]},
        "cases": cases,
        "decode_cases": decode_cases,
        "prefix_space": prefix_space,
        "ignore_merges": ignore_merges,
        "added_tokens": added,
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(out, ensure_ascii=True, indent=None, separators=(",", ":"))
    OUT.write_text(text + "\n", encoding="ascii")
    print(f"wrote {OUT} ({len(text)} bytes, {len(cases)} cases)")


if __name__ == "__main__":
    main()
