# `import nixpkgs { ... }` of the ./packages.nix stand-in.
args: (import ../packages.nix).instance args
