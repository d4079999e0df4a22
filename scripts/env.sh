# Sourced by the other scripts: installs what the build needs when it is missing, and chooses the
# OpenBLAS kernel family before any process loads the library (see README, "Speed").
set -euo pipefail

isaerft_install_system_deps() {
    local missing=()
    pkg-config --exists openblas 2>/dev/null || missing+=(libopenblas-dev)
    pkg-config --exists zlib 2>/dev/null || missing+=(zlib1g-dev)
    command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
    if [ ${#missing[@]} -gt 0 ]; then
        echo "installing ${missing[*]} (Debian packages)…" >&2
        local sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
    command -v swift >/dev/null 2>&1 || { echo "swift (6.x) is not on PATH: install the Swift toolchain first" >&2; return 1; }
}

# The main job's extra needs: ordinary English text (Debian's `fortunes`) and Python venvs (PyPI Gemma).
isaerft_install_main_job_deps() {
    local missing=()
    [ -d /usr/share/games/fortunes ] || missing+=(fortunes)
    python3 -c "import venv, ensurepip" >/dev/null 2>&1 || missing+=(python3-venv)
    if [ ${#missing[@]} -gt 0 ]; then
        echo "installing ${missing[*]} (Debian packages)…" >&2
        local sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
}

# Debian's OpenBLAS 0.3.21 misdetects recent Xeons as Prescott (5x below peak); name the core when
# the CPU has the instructions for it. The isaerft binary does the same by re-executing itself.
isaerft_choose_blas_core() {
    if [ -z "${OPENBLAS_CORETYPE:-}" ] && [ -r /proc/cpuinfo ]; then
        local flags; flags=$(grep -m1 '^flags' /proc/cpuinfo || true)
        if [[ $flags == *avx512f* && $flags == *avx512bw* && $flags == *avx512vl* && $flags == *avx512dq* ]]; then
            export OPENBLAS_CORETYPE=SKYLAKEX
        elif [[ $flags == *avx2* && $flags == *fma* ]]; then
            export OPENBLAS_CORETYPE=HASWELL
        fi
    fi
}
