#!/usr/bin/env bash
# Sets everything up on a fresh Debian machine and runs the default job.
# Until the ISaeRFT main job lands, the default job is: build in release mode, assemble a tiny GPT-2
# (the committed random fixture weights + the real GPT-2 tokenizer from ../shared/data), record hook
# activations with `isaerft run`, and continue a prompt with `isaerft generate`.
cd "$(dirname "$0")/.."
source scripts/env.sh
isaerft_install_system_deps
swift build -c release 2>&1 | grep -vE '^\[[0-9]+/[0-9]+\]|CMakeLists.txt|unhandled; explicitly declare' || true
BIN=.build/release/isaerft
[ -x "$BIN" ] || { echo "build failed" >&2; exit 1; }
DEMO="${ISAERFT_CACHE:-$HOME/.cache/isaerft}/demo-gpt2-random"
TOK=../shared/data/gpt2-tokenizer
if [ -f "$TOK/vocab.json" ]; then
    "$BIN" make-random-model --output "$DEMO" --layers 4 --width 256 --heads 4 --tokenizer-from "$TOK"
    echo "== tokenize"; "$BIN" tokenize --model "$DEMO" --text "Hello world, this is isaerft."
    echo "== run (logits and two hooks)"
    "$BIN" run --model "$DEMO" --text "The quick brown fox" --hooks blocks.1.hook_resid_post,blocks.2.attn.hook_pattern \
        --output "$DEMO/run.safetensors"
    echo "== generate (random weights: the text is noise)"
    "$BIN" generate --model "$DEMO" --prompt "Once upon a time" --max-new-tokens 12
else
    echo "note: ../shared/data/gpt2-tokenizer is absent; running on token ids only" >&2
    "$BIN" make-random-model --output "$DEMO" --layers 4 --width 256 --heads 4
    "$BIN" run --model "$DEMO" --ids 464,2068,7586,21831 --hooks blocks.1.hook_resid_post --output "$DEMO/run.safetensors"
fi
if [ -f ../shared/data/stories260K/stories260K.bin ]; then
    echo "== a real model: stories260K (llama2.c)"
    "$BIN" generate --model ../shared/data/stories260K/stories260K.bin --prompt "Once upon a time" --max-new-tokens 40
fi
echo "== benchmark (GPT-2 small sized, random weights)"
PY=${ISAERFT_TORCH_PYTHON:-}
if [ -n "$PY" ]; then "$BIN" bench forward --repeats 3 --torch-python "$PY"; else "$BIN" bench forward --repeats 3; fi
echo "done: outputs in $DEMO"
