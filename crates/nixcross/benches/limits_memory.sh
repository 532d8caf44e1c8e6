#!/usr/bin/env bash
# Peak memory and time of the nixcross binary on the evaluator's worst cases
# (benches/limits/*.nix, the cases of benches/limits.rs): `show`,
# `show --json` and a `set-target --dry-run` of each, under GNU time.
#
#   cargo build-release      # or cargo build --release
#   crates/nixcross/benches/limits_memory.sh [NIXCROSS]
#
# NIXCROSS defaults to target/release/nixcross. Prints, per case and
# command, the wall-clock seconds, the maximum resident set in MiB and the
# exit code, and the reason `show` gives.
set -euo pipefail

root=$(cd "$(dirname "$0")/../../.." && pwd)
nixcross=$(realpath "${1:-$root/target/release/nixcross}")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

printf '%-24s %-12s %8s %8s %5s\n' case command seconds "MiB" exit
for case in "$root"/crates/nixcross/benches/limits/*.nix; do
  name=$(basename "$case" .nix)
  mkdir -p "$work/$name"
  cp "$case" "$work/$name/flake.nix"
  for cmd in "show" "show --json" "set-target aarch64-linux --mode emulate --dry-run"; do
    # shellcheck disable=SC2086 # the command's words
    (cd "$work/$name" && /usr/bin/time -f '%e %M %x' -o "$work/time" "$nixcross" $cmd >"$work/out" 2>&1) || true
    read -r secs kib code < <(tail -n 1 "$work/time")
    printf '%-24s %-12s %8s %8s %5s\n' "$name" "${cmd%% aarch64-linux*}" "$secs" "$((kib / 1024))" "$code"
  done
  grep -o 'the evaluation budget is spent[^)]*)\|nested too deeply[^(]*' "$work/out" | head -1 | sed 's/^/    /'
done
