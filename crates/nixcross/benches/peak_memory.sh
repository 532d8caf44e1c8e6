#!/usr/bin/env bash
# Peak memory and CPU time of the nixcross binary against
# `nix-instantiate --parse` of the same flake.nix, on a generated flake of N
# configurations with a host module each (the shape of benches/engine.rs),
# and on one module file against nix-editor when it is on PATH.
#
#   cargo build --release -p nixcross-cli
#   crates/nixcross/benches/peak_memory.sh [N] [NIXCROSS]
#
# N defaults to 2000; NIXCROSS to target/release/nixcross. Needs GNU time
# (/usr/bin/time) and nix-instantiate; reads nothing from the network.
# Each figure is the median of 5 runs: max RSS in KiB, user+sys seconds.
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
fi
