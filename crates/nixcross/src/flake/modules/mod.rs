//! Following one configuration: its `nixosSystem` call, the modules NixOS
//! loads for it (the `modules` list, `imports` recursively, function
//! modules, files, `self.nixosModules.*`), and the definitions of the
//! platform options in them, through `mkIf`, `mkMerge` and the priority
//! wrappers.
//!
//! `call.rs` reads the call and its arguments (or a lone module file),
//! `graph.rs` follows the modules across files, `definitions.rs` walks each
//! module's definitions, and `sets.rs` reads platforms from values and
//! package sets, and the scoped package sets.

mod call;
mod definitions;
mod graph;
mod sets;

use super::SystemCall;
use crate::source::{FileId, Src};

pub(in crate::flake) use call::read_config;
pub(crate) use call::{lone_module, LoneModule};
pub(crate) use sets::config_platform_base;

/// Where a module comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModuleOrigin {
    /// A file whose whole expression is the module (a path in `modules` or
    /// `imports`).
    File(FileId),
    /// A module expression written in a file: an inline `{ ... }` in the
    /// modules list, a `let`-bound module, what `import ./x.nix { }`
    /// returns.
    Inline(Src),
    /// A module nixcross does not read: from another flake input or from
    /// nixpkgs (`modulesPath`). Assumed not to set platform options.
    External(String),
}

/// One module of a configuration.
#[derive(Debug, Clone)]
pub struct ModuleInstance {
    /// Where it comes from.
    pub origin: ModuleOrigin,
    /// The module expression (the file's root, or the inline node).
    pub expr: Option<Src>,
    /// The module that imports it; `None` for an item of the `modules` list.
    pub imported_from: Option<usize>,
    /// Whether it writes its definitions under `config = { ... }`.
    pub full: bool,
}

/// Something that could define a platform option but that nixcross cannot
/// read.
#[derive(Debug, Clone)]
pub struct Opaque {
    /// Why.
    pub reason: String,
    /// Where, when known.
    pub at: Option<Src>,
}

/// What an edit in `file` would change in `sys`: `whole` files (its module
/// files) and `regions` (its inline modules, its call and arguments, the
/// literals its platforms and scoped sets come from).
pub(super) fn used_text(
    sys: &SystemCall,
    mut whole: impl FnMut(FileId),
    mut region: impl FnMut(&Src),
) {
    for m in &sys.modules {
        match &m.origin {
            ModuleOrigin::File(f) => whole(*f),
            ModuleOrigin::Inline(src) => region(src),
            ModuleOrigin::External(_) => {}
        }
    }
    // The call and what of its arguments is written in a file: when the
    // arguments reach the call computed (`removeAttrs args [ ... ]`),
    // `sys.args` is not known, but the bindings and lists still are.
    for s in [
        &sys.args,
        &sys.call,
        &sys.modules_binding,
        &sys.modules_list,
        &sys.special_args_binding,
        &sys.pkgs_arg,
    ]
    .into_iter()
    .flatten()
    {
        region(s);
    }
    for l in &sys.appended_lists {
        region(l);
    }
    // A definition's binding (the `system` argument's too) and its literal.
    for d in &sys.definitions {
        for s in [&d.site, &d.literal].into_iter().flatten() {
            region(s);
        }
    }
    for s in &sys.scoped {
        for n in [&s.args, &s.local_literal, &s.cross_literal]
            .into_iter()
            .flatten()
        {
            region(n);
        }
    }
}
