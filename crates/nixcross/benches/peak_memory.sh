#!/usr/bin/env bash
# Peak memory and CPU time of the nixcross binary against
# `nix-instantiate --parse` of the same flake.nix, on a generated flake of N
# configurations with a host module each (the shape of benches/engine.rs),
# and on one module file against nix-editor when it is on PATH.
#
#   cargo build-release      # the shipped build (static-pie); or cargo build --release
#   crates/nixcross/benches/peak_memory.sh [N] [NIXCROSS]
#
# N defaults to 2000; NIXCROSS to target/release/nixcross. Needs GNU time
# (/usr/bin/time) and nix-instantiate; reads nothing from the network.
# Each figure is the median of 5 runs: max RSS in KiB, user+sys seconds.
#
# The one-module comparison with nix-editor is a millisecond per run, finer
# than /usr/bin/time shows, so its CPU is also measured the way issue 13
# states it: `perf stat -r REPS -e task-clock` of a script that copies the
# module and runs the edit, less the same script that only copies. Other
# work on the machine comes and goes within seconds, so the three scripts
# take turns in ROUNDS short rounds and each figure is a median over the
# rounds (REPS defaults to 30, ROUNDS to 15). Without a working perf, the
# CPU time of a loop of REPS runs (/usr/bin/time, to 10 ms: REPS defaults to
# 300 and ROUNDS to 5 then) stands in.
set -euo pipefail

n=${1:-2000}
root=$(cd "$(dirname "$0")/../../.." && pwd)
nixcross=${2:-$root/target/release/nixcross}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

gen() {
  local dir=$1
  mkdir -p "$dir/hosts"
  {
    printf '{\n  inputs.nixpkgs.url = "github:nixos/nixpkgs/nixos-25.11";\n\n  outputs = inputs@{ self, nixpkgs, ... }: {\n    nixosConfigurations = {\n'
    for ((i = 0; i < n; i++)); do
      printf '      # board %d\n      board%d = nixpkgs.lib.nixosSystem {\n        # native platform\n        system = "x86_64-linux";\n        modules = [\n          {\n            nixpkgs.crossSystem = {\n              system = "riscv64-linux";\n            };\n          }\n          ./hosts/board%d.nix\n        ];\n      };\n' "$i" "$i" "$i"
      printf '{ pkgs, ... }:\n{\n  networking.hostName = "board%d";\n  environment.systemPackages = [ pkgs.htop ];\n}\n' "$i" >"$dir/hosts/board$i.nix"
    done
    printf '    };\n  };\n}\n'
  } >"$dir/flake.nix"
}

# median of 5 runs of "$@" in a fresh copy of $work/base: "rss_kib cpu_s"
measure() {
  local runs=()
  for _ in 1 2 3 4 5; do
    rm -rf "$work/run" && cp -r "$work/base" "$work/run"
    (cd "$work/run" && /usr/bin/time -f '%M %U %S' -o "$work/time" "$@" >/dev/null 2>&1) || true
    read -r rss user sys <"$work/time"
    runs+=("$rss $(echo "$user + $sys" | bc)")
  done
  printf '%s\n' "${runs[@]}" | sort -n -k2 | sed -n 3p
}

gen "$work/base"
mid=$((n / 2))
bytes=$(wc -c <"$work/base/flake.nix")
echo "flake.nix: $n configurations, $bytes bytes (and $n host modules)"
printf '%-40s %10s %8s\n' "command" "max RSS KiB" "CPU s"
row() { local name=$1; shift; read -r rss cpu <<<"$(measure "$@")"; printf '%-40s %10s %8s\n' "$name" "$rss" "$cpu"; }
row "nix-instantiate --parse flake.nix" nix-instantiate --parse flake.nix
row "nixcross show" "$nixcross" show
row "nixcross set-target --config board$mid" "$nixcross" set-target aarch64-linux --mode cross --config "board$mid"
row "nixcross emulate --config board$mid" "$nixcross" emulate aarch64-linux --config "board$mid"

# One module, one edit: nixcross emulate against nix-editor setting the same
# option to the same value (when nix-editor is installed).
if command -v nix-editor >/dev/null; then
  rm -rf "$work/base" && mkdir -p "$work/base"
  printf '{ config, pkgs, ... }:\n{\n  imports = [ ./hardware-configuration.nix ];\n  boot.loader.systemd-boot.enable = true;\n  networking.hostName = "builder";\n}\n' >"$work/base/configuration.nix"
  echo "one module (configuration.nix), boot.binfmt.emulatedSystems = [ \"aarch64-linux\" ]:"
  row "nix-editor -v ... -i" nix-editor configuration.nix boot.binfmt.emulatedSystems -v '[ "aarch64-linux" ]' -i
  row "nixcross emulate -f configuration.nix" "$nixcross" emulate aarch64-linux -f configuration.nix

  # CPU per edit, in milliseconds, to the microsecond.
  cp "$work/base/configuration.nix" "$work/base.nix"
  script() { printf 'cd %q && cp %q configuration.nix%s\n' "$work/base" "$work/base.nix" "$1" >"$work/$2.sh"; }
  script "" copy
  script "; nix-editor configuration.nix boot.binfmt.emulatedSystems -v '[ \"aarch64-linux\" ]' -i >/dev/null 2>&1" editor
  script "; $(printf %q "$nixcross") emulate aarch64-linux -f configuration.nix >/dev/null 2>&1" nixcross
  if perf stat -x, -e task-clock true >/dev/null 2>&1; then
    reps=${REPS:-30}
    rounds=${ROUNDS:-15}
    how="perf stat -r $reps -e task-clock"
    cpu_ms() { perf stat -r "$reps" -x, -e task-clock sh "$work/$1.sh" 2>&1 >/dev/null | awk -F, '/task-clock/ { print $1 }'; }
  else
    reps=${REPS:-300}
    rounds=${ROUNDS:-5}
    how="user+sys of a loop of $reps runs (/usr/bin/time; no working perf)"
    cpu_ms() {
      /usr/bin/time -f '%U %S' -o "$work/time" sh -c "for i in \$(seq $reps); do sh $work/$1.sh; done"
      awk -v n="$reps" '{ printf "%.4f\n", ($1 + $2) * 1000 / n }' "$work/time"
    }
  fi
  median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
  : >"$work/editor.ms" && : >"$work/nixcross.ms"
  for ((r = 0; r < rounds; r++)); do
    copy=$(cpu_ms copy)
    echo "$(cpu_ms editor) - $copy" | bc -l >>"$work/editor.ms"
    echo "$(cpu_ms nixcross) - $copy" | bc -l >>"$work/nixcross.ms"
  done
  editor=$(median <"$work/editor.ms")
  ours=$(median <"$work/nixcross.ms")
  echo "CPU per edit, $how, less the copy, median of $rounds rounds:"
  printf '  %-38s %8.3f ms\n' "nix-editor -v ... -i" "$editor" "nixcross emulate -f configuration.nix" "$ours"
  printf '  %-38s %8.2f\n' "ratio nixcross / nix-editor" "$(echo "$ours / $editor" | bc -l)"
fi
