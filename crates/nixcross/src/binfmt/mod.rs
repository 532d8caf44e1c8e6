//! binfmt_misc: registration lines, entry files, ELF/PE/wasm detection. (to be written)
