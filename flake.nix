{
  description = "nixcross: cross-compiled and emulated NixOS flakes, written for you and edited in place";

  inputs.nixpkgs.url = "github:nixos/nixpkgs/nixos-25.11";

  outputs = { self, nixpkgs }:
    let
      systems = [ "x86_64-linux" "aarch64-linux" "x86_64-darwin" "aarch64-darwin" ];
      forAllSystems = f: nixpkgs.lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});
    in
    {
      packages = forAllSystems (pkgs: {
        default = pkgs.rustPlatform.buildRustPackage {
          pname = "nixcross";
          version = "0.1.0";
          src = self;
          cargoLock.lockFile = ./Cargo.lock;
          # The tests use real Nix as their oracle.
          nativeCheckInputs = [ pkgs.nix ];
          # With glibc, the C library is linked in (static-pie, still
          # position-independent), as `cargo build-release` does: a run is a
          # millisecond, and the dynamic loader's work would be a third of it.
          # The build hook passes --target, so proc-macros stay dynamic.
          buildInputs = pkgs.lib.optionals (pkgs.stdenv.hostPlatform.libc == "glibc") [ pkgs.glibc.static ];
          RUSTFLAGS = pkgs.lib.optionalString (pkgs.stdenv.hostPlatform.libc == "glibc") "-C target-feature=+crt-static";
          # nix-instantiate needs a writable state directory inside the build sandbox.
          preCheck = ''
            export NIX_STATE_DIR=$TMPDIR/nix-state
            export NIX_STORE_DIR=$TMPDIR/nix-store
          '';
          # Completion scripts (dynamic: they call $out/bin/nixcross back for
          # targets and configurations) and one man page per command.
          postInstall = ''
            mkdir -p $out/share/bash-completion/completions $out/share/zsh/site-functions $out/share/fish/vendor_completions.d $out/share/man/man1
            $out/bin/nixcross completions bash > $out/share/bash-completion/completions/nixcross
            $out/bin/nixcross completions zsh > $out/share/zsh/site-functions/_nixcross
            $out/bin/nixcross completions fish > $out/share/fish/vendor_completions.d/nixcross.fish
            $out/bin/nixcross man --dir $out/share/man/man1
          '';
          meta = {
            description = "Write and edit NixOS flakes for cross-compiled and emulated builds";
            mainProgram = "nixcross";
            license = with nixpkgs.lib.licenses; [ mit asl20 ];
          };
        };
      });

      checks = forAllSystems (pkgs: {
        default = self.packages.${pkgs.system}.default;
      });

      devShells = forAllSystems (pkgs: {
        default = pkgs.mkShell {
          packages = [ pkgs.cargo pkgs.rustc pkgs.clippy pkgs.rustfmt pkgs.nix ];
        };
      });
    };
}
