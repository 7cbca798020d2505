#!/usr/bin/env bash
# Fuzzes signed-bundle verification and strict parsing (fuzz/fuzz_targets/verify.rs) for N
# seconds (default 60) on stable Rust: libFuzzer coverage without a sanitizer (the code is
# `unsafe`-free; what is hunted is panics, overflows and runaway time). Crashes land in
# fuzz/artifacts/verify/ and fail the run.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds="${1:-60}"
mkdir -p corpus/verify
cargo fuzz run --sanitizer none verify corpus/verify seeds/verify -- \
  -max_total_time="$seconds" -max_len=65536 -timeout=10 -print_final_stats=1
