//! A read-only view over a flake: its `outputs` function, the `let` scopes
//! around the outputs, and every NixOS configuration with the
//! `nixosSystem` call that builds it, the call's `system`, `modules` and
//! `specialArgs`, and the platform options its inline modules set.
//!
//! Shapes it follows: `nixosConfigurations.<name> = ...` dotted or nested,
//! quoted names, `let ... in` around the outputs or a configuration,
//! `inputs@{ ... }:`, `{ ... }@inputs:` and plain lambdas, `//` merges of
//! output sets, flake-parts' `mkFlake` with `flake.nixosConfigurations`, any
//! reference ending in `nixosSystem`, and helpers defined in the same file
//! (`mkHost = name: nixpkgs.lib.nixosSystem { ... }`). Anything else is
//! listed with the reason nixcross cannot edit it.

use std::collections::HashMap;

use crate::module::{self, ModuleBody, OptionHit};
use crate::platform;
use crate::syntax::{self, AttrSetView, Doc, Entry, Kind, ListView, Node, Param};

/// What a name is bound to in a scope.
#[derive(Debug, Clone)]
pub enum Bound {
    /// A `let` binding, a formal's default or a helper argument.
    Expr(Node),
    /// A function argument with no default, or an `inherit`.
    Opaque,
}

/// Lexical scopes from the outside in.
#[derive(Debug, Clone, Default)]
pub struct Scopes(Vec<HashMap<String, Bound>>);

impl Scopes {
    fn push_param(&mut self, param: &Param) {
        let mut map = HashMap::new();
        match param {
            Param::Ident { name } => {
                map.insert(name.clone(), Bound::Opaque);
            }
            Param::Pattern { formals, bind, .. } => {
                for f in formals {
                    let b = f.default.clone().map_or(Bound::Opaque, Bound::Expr);
                    map.insert(f.name.clone(), b);
                }
                if let Some(b) = bind {
                    map.insert(b.clone(), Bound::Opaque);
                }
            }
        }
        self.0.push(map);
    }

    fn push_entries(&mut self, entries: &[Entry]) {
        let mut map = HashMap::new();
        for e in entries {
            match e {
                Entry::Binding(b) => {
                    if let Some(p) = &b.path {
                        if p.len() == 1 {
                            map.insert(p[0].clone(), Bound::Expr(b.value.clone()));
                        } else {
                            map.insert(p[0].clone(), Bound::Opaque);
                        }
                    }
                }
                Entry::Inherit(i) => {
                    for (n, _) in &i.names {
                        map.insert(n.clone(), Bound::Opaque);
                    }
                }
            }
        }
        self.0.push(map);
    }

    fn push_args(&mut self, args: HashMap<String, Bound>) {
        self.0.push(args);
    }

    /// What `name` is bound to, innermost first.
    pub fn lookup(&self, name: &str) -> Option<&Bound> {
        self.0.iter().rev().find_map(|m| m.get(name))
    }

    /// Whether `name` is bound anywhere.
    pub fn binds(&self, name: &str) -> bool {
        self.lookup(name).is_some()
    }
}

/// A value nixcross traced to a string literal.
#[derive(Debug, Clone)]
pub struct Traced {
    pub value: String,
    /// The string node holding the value (where an edit goes).
    pub literal: Node,
    /// The variable the value came through, if any.
    pub via: Option<String>,
}

/// The result of tracing an expression to a literal.
#[derive(Debug, Clone)]
pub enum Value {
    Literal(Traced),
    Unknown(String),
}

impl Value {
    pub fn literal(&self) -> Option<&Traced> {
        match self {
            Value::Literal(t) => Some(t),
            Value::Unknown(_) => None,
        }
    }
}

/// Follow identifiers through scopes to a string literal.
pub fn trace(node: &Node, scopes: &Scopes) -> Value {
    let mut cur = node.unparen();
    let mut via = None;
    for _ in 0..8 {
        if let Some(value) = cur.string_literal() {
            return Value::Literal(Traced {
                value,
                literal: cur,
                via,
            });
        }
        if let Some(name) = cur.ident() {
            match scopes.lookup(&name) {
                Some(Bound::Expr(e)) => {
                    via.get_or_insert(name);
                    cur = e.unparen();
                    continue;
                }
                Some(Bound::Opaque) => {
                    return Value::Unknown(format!(
                        "`{name}` is a function argument or inherited value, not a literal"
                    ))
                }
                None => return Value::Unknown(format!("`{name}` is not defined in this file")),
            }
        }
        if cur
            .reference()
            .is_some_and(|r| r.last().map(String::as_str) == Some("currentSystem"))
        {
            return Value::Unknown(
                "`builtins.currentSystem` is only known at evaluation time".into(),
            );
        }
        return Value::Unknown(format!("`{}` is not a string literal", short(&cur.text())));
    }
    Value::Unknown("too many indirections".into())
}

fn short(s: &str) -> String {
    let one: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if one.chars().count() > 40 {
        format!("{}...", one.chars().take(37).collect::<String>())
    } else {
        one
    }
}

/// The five platform options of `nixos/modules/misc/nixpkgs.nix`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum PlatformOption {
    CrossSystem,
    LocalSystem,
    System,
    HostPlatform,
    BuildPlatform,
}

impl PlatformOption {
    pub const ALL: [PlatformOption; 5] = [
        PlatformOption::CrossSystem,
        PlatformOption::LocalSystem,
        PlatformOption::System,
        PlatformOption::HostPlatform,
        PlatformOption::BuildPlatform,
    ];
    pub fn name(self) -> &'static str {
        match self {
            PlatformOption::CrossSystem => "crossSystem",
            PlatformOption::LocalSystem => "localSystem",
            PlatformOption::System => "system",
            PlatformOption::HostPlatform => "hostPlatform",
            PlatformOption::BuildPlatform => "buildPlatform",
        }
    }
    pub fn is_legacy(self) -> bool {
        matches!(
            self,
            PlatformOption::CrossSystem | PlatformOption::LocalSystem | PlatformOption::System
        )
    }
}

/// How a platform value is written, which says how to change it.
#[derive(Debug, Clone)]
pub enum PlatformExpr {
    /// `"riscv64-linux"` or `"riscv64-unknown-linux-gnu"`.
    Str(Node),
    /// `{ system = "..."; }` or `{ config = "..."; }` (maybe with more keys).
    Keyed {
        set: AttrSetView,
        key: String,
        literal: Node,
    },
    /// `<lib>.systems.examples.<name>`.
    Example { name: String, node: Node },
    /// Anything else.
    Other(Node),
}

/// A platform option set in an inline module.
#[derive(Debug, Clone)]
pub struct PlatformSetting {
    pub option: PlatformOption,
    /// Index of the inline module in [`Call::inline_modules`].
    pub module: usize,
    pub hit: OptionHit,
    /// The value after `lib.mkDefault`/`mkForce`/`mkOverride n` wrappers.
    pub expr: PlatformExpr,
    /// The system double it means, when known.
    pub system: Option<String>,
}

/// Strip `lib.mkDefault x`, `mkForce x`, `lib.mkOverride 900 x`.
pub fn unwrap_priority(node: &Node) -> Node {
    let n = node.unparen();
    if let Some((f, args)) = n.call() {
        if let Some(r) = f.reference() {
            let last = r.last().map(String::as_str);
            if matches!(last, Some("mkDefault" | "mkForce" | "mkOptionDefault")) && args.len() == 1
                || last == Some("mkOverride") && args.len() == 2
            {
                return args.last().unwrap().unparen();
            }
        }
    }
    n
}

/// Read a platform expression: what it is written as and which double it means.
pub fn read_platform(node: &Node, scopes: &Scopes) -> (PlatformExpr, Option<String>) {
    let n = unwrap_priority(node);
    if n.string_literal().is_some() {
        let v = n.string_literal().unwrap();
        return (PlatformExpr::Str(n), double_of(&v));
    }
    if let Some(r) = n.reference() {
        if r.len() >= 3 && r[r.len() - 3] == "systems" && r[r.len() - 2] == "examples" {
            let name = r.last().unwrap().clone();
            let system = platform::catalogue()
                .example(&name)
                .map(|e| e.system.clone());
            return (PlatformExpr::Example { name, node: n }, system);
        }
        if let Value::Literal(t) = trace(&n, scopes) {
            let system = double_of(&t.value);
            return (PlatformExpr::Other(n), system);
        }
    }
    if let Some(set) = n.attrset() {
        for key in ["system", "config"] {
            let found = set.entries.iter().find_map(|e| match e {
                Entry::Binding(b) if b.path.as_deref() == Some(&[key.to_string()][..]) => {
                    Some(b.value.clone())
                }
                _ => None,
            });
            if let Some(v) = found {
                let lit = v.unparen();
                if let Some(s) = lit.string_literal() {
                    return (
                        PlatformExpr::Keyed {
                            set: set.clone(),
                            key: key.into(),
                            literal: lit,
                        },
                        double_of(&s),
                    );
                }
                let system = trace(&v, scopes)
                    .literal()
                    .and_then(|t| double_of(&t.value));
                return (PlatformExpr::Other(n), system);
            }
        }
    }
    (PlatformExpr::Other(n), None)
}

/// The double a system string means: a double, a triple or an example name.
pub fn double_of(s: &str) -> Option<String> {
    platform::resolve(s).ok().map(|t| t.system)
}

/// The `modules` argument.
#[derive(Debug, Clone)]
pub struct Modules {
    /// The literal list new modules go into (the list itself, or the literal
    /// side of `[ ... ] ++ other`).
    pub list: Option<ListView>,
    /// True when some modules come from an expression nixcross cannot see.
    pub partial: bool,
    /// The binding `modules = ...;`.
    pub entry_range: (usize, usize),
}

/// A `nixosSystem { ... }` call.
#[derive(Debug, Clone)]
pub struct Call {
    /// The function reference, e.g. `["nixpkgs", "lib", "nixosSystem"]`.
    pub func: Vec<String>,
    pub args: AttrSetView,
    /// The `system` entry and its traced value.
    pub system: Option<(Entry, Value)>,
    pub modules: Option<Modules>,
    /// The `specialArgs = ...;` value.
    pub special_args: Option<Node>,
    /// Inline modules in the modules list, in order.
    pub inline_modules: Vec<ModuleBody>,
    /// Platform options the inline modules set.
    pub settings: Vec<PlatformSetting>,
    /// Scopes visible at the call.
    pub scopes: Scopes,
    /// When the call is in a helper's body: its name and how many
    /// configurations use it.
    pub helper: Option<(String, usize)>,
}

impl Call {
    /// Settings of one option.
    pub fn settings_of(&self, option: PlatformOption) -> Vec<&PlatformSetting> {
        self.settings
            .iter()
            .filter(|s| s.option == option)
            .collect()
    }

    /// The expression that reaches nixpkgs' `lib` here: `nixpkgs.lib` for
    /// `nixpkgs.lib.nixosSystem`, `lib` for `lib.nixosSystem`.
    pub fn lib_expr(&self) -> String {
        let n = self.func.len();
        if n >= 2 && self.func[n - 2] == "lib" {
            self.func[..n - 1].join(".")
        } else {
            "nixpkgs.lib".to_string()
        }
    }
}

/// One `nixosConfigurations.<name>`.
#[derive(Debug, Clone)]
pub struct Config {
    pub name: String,
    /// Where the name is written.
    pub name_range: (usize, usize),
    pub expr: Node,
    pub call: Option<Call>,
    /// Why nixcross cannot edit this configuration, and where.
    pub blocked: Option<(String, (usize, usize))>,
}

/// The build and host platforms of a configuration as far as the file says.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Platforms {
    pub build: Option<String>,
    pub host: Option<String>,
    pub style: Option<&'static str>,
}

impl Config {
    /// Why nixcross cannot edit this configuration, and where; `None` when
    /// it can.
    pub fn edit_blocker(&self) -> Option<(String, (usize, usize))> {
        if let Some(b) = &self.blocked {
            return Some(b.clone());
        }
        if self.call.is_none() {
            return Some(("no nixosSystem call found".into(), self.name_range));
        }
        if self.platforms().style == Some("mixed") {
            return Some((
                "sets both nixpkgs.crossSystem/localSystem/system and nixpkgs.hostPlatform/buildPlatform; NixOS rejects that mix with an assertion, so fix it by hand first".into(),
                self.name_range,
            ));
        }
        None
    }

    /// Build/host/style, read statically.
    pub fn platforms(&self) -> Platforms {
        let Some(call) = &self.call else {
            return Platforms {
                build: None,
                host: None,
                style: None,
            };
        };
        let first = |o| {
            call.settings_of(o)
                .first()
                .map(|s: &&PlatformSetting| s.system.clone())
        };
        let legacy = PlatformOption::ALL
            .iter()
            .any(|o| o.is_legacy() && !call.settings_of(*o).is_empty());
        let modern = !call.settings_of(PlatformOption::HostPlatform).is_empty()
            || !call.settings_of(PlatformOption::BuildPlatform).is_empty();
        let arg = call
            .system
            .as_ref()
            .map(|(_, v)| v.literal().and_then(|t| double_of(&t.value)));
        let style = match (legacy, modern) {
            (true, true) => Some("mixed"),
            (true, false) => Some("legacy"),
            (false, true) => Some("modern"),
            (false, false) => arg.as_ref().map(|_| "legacy"),
        };
        if modern {
            let host = first(PlatformOption::HostPlatform).flatten();
            let build = match first(PlatformOption::BuildPlatform) {
                Some(b) => b,
                None => host.clone(),
            };
            return Platforms { build, host, style };
        }
        let build = match first(PlatformOption::LocalSystem) {
            Some(b) => b,
            None => match first(PlatformOption::System) {
                Some(b) => b,
                None => arg.flatten(),
            },
        };
        let host = match first(PlatformOption::CrossSystem) {
            Some(h) => h,
            None => build.clone(),
        };
        Platforms { build, host, style }
    }
}

/// A parsed flake.
#[derive(Debug, Clone)]
pub struct Flake {
    pub doc: Doc,
    pub configs: Vec<Config>,
    /// The `outputs` function's parameter, when it is a function.
    pub outputs_param: Option<Param>,
    /// The outputs body (inside the lambda, before any `let`).
    pub outputs_body: Option<Node>,
    /// `let` layers around the outputs result, outermost first.
    pub outputs_lets: Vec<syntax::LetView>,
    /// Scopes visible in the outputs result.
    pub outputs_scopes: Scopes,
}

impl Flake {
    /// Parse `src` and find its configurations. Fails only when the text does
    /// not parse.
    pub fn parse(src: &str) -> crate::Result<Flake> {
        let doc = syntax::parse(src)?;
        let mut flake = Flake {
            doc: doc.clone(),
            configs: Vec::new(),
            outputs_param: None,
            outputs_body: None,
            outputs_lets: Vec::new(),
            outputs_scopes: Scopes::default(),
        };
        let Some(root) = doc.expr() else {
            return Ok(flake);
        };
        let root = root.unparen();
        let Some(set) = root.attrset() else {
            return Ok(flake);
        };
        let outputs = set.entries.iter().find_map(|e| match e {
            Entry::Binding(b) if b.path.as_deref() == Some(&["outputs".to_string()][..]) => {
                Some(b.value.clone())
            }
            _ => None,
        });
        let Some(outputs) = outputs else {
            return Ok(flake);
        };
        let mut scopes = Scopes::default();
        let mut body = outputs.unparen();
        if let Some(l) = body.lambda() {
            scopes.push_param(&l.param);
            flake.outputs_param = Some(l.param.clone());
            body = l.body.clone();
            flake.outputs_body = Some(body.clone());
        }
        let mut cur = body.unparen();
        loop {
            if let Some(l) = cur.let_in() {
                scopes.push_entries(&l.entries);
                flake.outputs_lets.push(l.clone());
                cur = l.body.unparen();
                continue;
            }
            break;
        }
        flake.outputs_scopes = scopes.clone();
        let mut raw = Vec::new();
        collect_outputs(&cur, &scopes, &mut raw, 0);
        let mut helper_uses: HashMap<String, usize> = HashMap::new();
        for r in &raw {
            if let Some(h) = helper_name(&r.expr, &r.scopes) {
                *helper_uses.entry(h).or_default() += 1;
            }
        }
        for r in raw {
            flake.configs.push(analyze(r, &doc, &helper_uses));
        }
        Ok(flake)
    }

    /// The configuration called `name`.
    pub fn config(&self, name: &str) -> Option<&Config> {
        self.configs.iter().find(|c| c.name == name)
    }

    /// Pick the configuration to edit (`name`, or the only one) and its
    /// `nixosSystem` call, refusing one that nixcross cannot edit safely.
    pub fn select_editable(&self, name: Option<&str>) -> crate::Result<(&Config, &Call)> {
        let config = self.select(name)?;
        if let Some((why, range)) = config.edit_blocker() {
            return Err(crate::error::Error::refused(format!(
                "cannot edit `{}`: {why}",
                config.name
            ))
            .at(range));
        }
        let call = config
            .call
            .as_ref()
            .expect("an unblocked configuration has a call");
        Ok((config, call))
    }

    /// Pick the configuration to edit: `name`, or the only one.
    pub fn select(&self, name: Option<&str>) -> crate::Result<&Config> {
        use crate::error::Error;
        match name {
            Some(n) => self.config(n).ok_or_else(|| {
                let names: Vec<&str> = self.configs.iter().map(|c| c.name.as_str()).collect();
                let mut e = Error::invalid(format!("no configuration named `{n}`"));
                if !names.is_empty() {
                    e = e.hint(format!("the file has: {}", names.join(", ")));
                }
                e
            }),
            None => match self.configs.len() {
                0 => Err(Error::refused(
                    "found no nixosConfigurations in this file (nixcross reads `outputs` -> `nixosConfigurations.<name> = ...nixosSystem { ... }`)",
                )),
                1 => Ok(&self.configs[0]),
                _ => {
                    let names: Vec<&str> = self.configs.iter().map(|c| c.name.as_str()).collect();
                    Err(Error::invalid(format!(
                        "the file has {} configurations; choose one with --config",
                        names.len()
                    ))
                    .hint(format!("configurations: {}", names.join(", "))))
                }
            },
        }
    }
}

struct RawConfig {
    name: String,
    name_range: (usize, usize),
    expr: Node,
    scopes: Scopes,
    /// Seen, but not editable: why, and where.
    blocked: Option<(String, (usize, usize))>,
}

impl RawConfig {
    fn new(name: String, name_range: (usize, usize), expr: Node, scopes: Scopes) -> Self {
        RawConfig {
            name,
            name_range,
            expr,
            scopes,
            blocked: None,
        }
    }
    fn blocked(name: String, range: (usize, usize), expr: Node, why: String) -> Self {
        RawConfig {
            name,
            name_range: range,
            expr,
            scopes: Scopes::default(),
            blocked: Some((why, range)),
        }
    }
}

/// The text of `range`, which lies inside `node`.
fn text_in(node: &Node, range: (usize, usize)) -> String {
    let t = node.text();
    let s = node.start();
    t.get(range.0 - s..range.1 - s)
        .unwrap_or_default()
        .to_string()
}

fn collect_outputs(node: &Node, scopes: &Scopes, out: &mut Vec<RawConfig>, depth: usize) {
    if depth > 16 {
        return;
    }
    let n = node.unparen();
    match n.kind() {
        Kind::AttrSet | Kind::RecAttrSet => {
            let set = n.attrset().unwrap();
            let mut scopes = scopes.clone();
            if set.rec {
                scopes.push_entries(&set.entries);
            }
            collect_in_set(&set, &["nixosConfigurations"], &scopes, out);
        }
        Kind::Update => {
            let (l, r) = n.binop().unwrap();
            collect_outputs(&l, scopes, out, depth + 1);
            collect_outputs(&r, scopes, out, depth + 1);
        }
        Kind::LetIn => {
            let l = n.let_in().unwrap();
            let mut scopes = scopes.clone();
            scopes.push_entries(&l.entries);
            collect_outputs(&l.body, &scopes, out, depth + 1);
        }
        Kind::With => {
            // Show what is inside, but `with` hides where names come from.
            let Some(body) = n.with_body() else { return };
            let start = out.len();
            collect_outputs(&body, scopes, out, depth + 1);
            let with_range = (n.start(), body.start());
            for r in &mut out[start..] {
                r.blocked.get_or_insert((
                    "the outputs are inside `with ...;`, which hides where names come from".into(),
                    with_range,
                ));
            }
        }
        Kind::Apply => {
            // flake-parts: mkFlake { inherit inputs; } { flake.nixosConfigurations = ...; }
            let (f, args) = n.call().unwrap();
            let is_mkflake = f
                .reference()
                .is_some_and(|r| r.last().map(String::as_str) == Some("mkFlake"));
            if !is_mkflake {
                return;
            }
            let Some(last) = args.last() else { return };
            let mut scopes = scopes.clone();
            let mut body = last.unparen();
            if let Some(l) = body.lambda() {
                scopes.push_param(&l.param);
                body = l.body.unparen();
            }
            while let Some(l) = body.let_in() {
                scopes.push_entries(&l.entries);
                body = l.body.unparen();
            }
            if let Some(set) = body.attrset() {
                collect_in_set(&set, &["flake", "nixosConfigurations"], &scopes, out);
                // `flake = let ... in { nixosConfigurations = ...; };`
                for e in &set.entries {
                    let Entry::Binding(b) = e else { continue };
                    if b.path.as_deref() != Some(&["flake".to_string()][..]) {
                        continue;
                    }
                    let mut scopes = scopes.clone();
                    let mut v = b.value.unparen();
                    if v.kind() != Kind::LetIn {
                        continue;
                    }
                    while let Some(l) = v.let_in() {
                        scopes.push_entries(&l.entries);
                        v = l.body.unparen();
                    }
                    if let Some(inner) = v.attrset() {
                        collect_in_set(&inner, &["nixosConfigurations"], &scopes, out);
                    }
                }
            }
        }
        _ => {}
    }
}

fn collect_in_set(set: &AttrSetView, path: &[&str], scopes: &Scopes, out: &mut Vec<RawConfig>) {
    // Shapes nixcross sees but cannot read: `nixosConfigurations.${name} = ...`
    // and `inherit (x) nixosConfigurations;`.
    for e in &set.entries {
        match e {
            Entry::Binding(b)
                if b.path.is_none()
                    && b.static_prefix.len() >= path.len()
                    && b.static_prefix.iter().zip(path).all(|(k, p)| k == p) =>
            {
                let key = text_in(&set.node, b.key_range);
                let prefix = format!("{}.", path.join("."));
                let name = key
                    .strip_prefix(&prefix)
                    .map_or(key.clone(), str::to_string);
                out.push(RawConfig::blocked(
                    name,
                    b.key_range,
                    b.value.clone(),
                    "the configuration's name is computed (`${...}`), so nixcross cannot tell which configuration it is".into(),
                ));
            }
            Entry::Inherit(i) if path.len() == 1 => {
                for (n, r) in &i.names {
                    if n == path[0] {
                        out.push(RawConfig::blocked(
                            "*".into(),
                            *r,
                            set.node.clone(),
                            format!(
                                "`{n}` is inherited, so nixcross cannot see its configurations"
                            ),
                        ));
                    }
                }
            }
            _ => {}
        }
    }
    let (hits, _) = module::find_option(set, path);
    for hit in hits {
        if hit.rest.len() == 1 {
            let Entry::Binding(b) = hit.entry() else {
                continue;
            };
            out.push(RawConfig::new(
                hit.rest[0].clone(),
                b.key_range,
                hit.value.clone(),
                scopes.clone(),
            ));
            continue;
        }
        if !hit.rest.is_empty() {
            continue;
        }
        let mut scopes = scopes.clone();
        let mut v = hit.value.unparen();
        while let Some(l) = v.let_in() {
            scopes.push_entries(&l.entries);
            v = l.body.unparen();
        }
        let Some(inner) = v.attrset() else {
            let Entry::Binding(b) = hit.entry() else {
                continue;
            };
            out.push(RawConfig::new(
                "*".into(),
                b.key_range,
                hit.value.clone(),
                scopes,
            ));
            continue;
        };
        if inner.rec {
            scopes.push_entries(&inner.entries);
        }
        for e in &inner.entries {
            match e {
                Entry::Binding(b) => match &b.path {
                    Some(p) if p.len() == 1 => {
                        out.push(RawConfig::new(
                            p[0].clone(),
                            b.key_range,
                            b.value.clone(),
                            scopes.clone(),
                        ));
                    }
                    None if b.static_prefix.is_empty() => {
                        out.push(RawConfig::blocked(
                            text_in(&inner.node, b.key_range),
                            b.key_range,
                            b.value.clone(),
                            "the configuration's name is computed (`${...}`), so nixcross cannot tell which configuration it is".into(),
                        ));
                    }
                    _ => {}
                },
                Entry::Inherit(i) => {
                    for (n, r) in &i.names {
                        out.push(RawConfig::blocked(
                            n.clone(),
                            *r,
                            inner.node.clone(),
                            format!("`{n}` is inherited from a variable; nixcross edits a nixosSystem call written at the configuration (`{n} = nixpkgs.lib.nixosSystem {{ ... }};`)"),
                        ));
                    }
                }
            }
        }
    }
}

/// The helper a configuration expression calls, if it calls a function bound
/// in the file.
fn helper_name(expr: &Node, scopes: &Scopes) -> Option<String> {
    let (f, _) = expr.unparen().call()?;
    let name = f.unparen().ident()?;
    match scopes.lookup(&name) {
        Some(Bound::Expr(e)) if e.unparen().kind() == Kind::Lambda => Some(name),
        _ => None,
    }
}

fn is_nixos_system(f: &Node) -> Option<Vec<String>> {
    let r = f.reference()?;
    (r.last().map(String::as_str) == Some("nixosSystem")).then_some(r)
}

fn analyze(raw: RawConfig, doc: &Doc, helper_uses: &HashMap<String, usize>) -> Config {
    let mut config = Config {
        name: raw.name.clone(),
        name_range: raw.name_range,
        expr: raw.expr.clone(),
        call: None,
        blocked: None,
    };
    if let Some(b) = raw.blocked {
        config.blocked = Some(b);
        return config;
    }
    if raw.name == "*" {
        config.blocked = Some((
            "nixosConfigurations is computed by an expression (a function call or variable), so nixcross cannot see its configurations".into(),
            raw.expr.range(),
        ));
        return config;
    }
    let mut scopes = raw.scopes.clone();
    let mut e = raw.expr.unparen();
    while let Some(l) = e.let_in() {
        scopes.push_entries(&l.entries);
        e = l.body.unparen();
    }
    let block = |config: &mut Config, why: String, range: (usize, usize)| {
        config.blocked = Some((why, range));
    };
    match e.kind() {
        Kind::Update => {
            block(&mut config, "the configuration is built with `//`, so nixcross cannot tell which side decides the platform".into(), e.range());
            return config;
        }
        Kind::With => {
            block(
                &mut config,
                "the configuration is inside `with`, which hides where names come from".into(),
                e.range(),
            );
            return config;
        }
        Kind::Apply => {}
        _ => {
            block(
                &mut config,
                format!("`{}` is not a call to nixosSystem", short(&e.text())),
                e.range(),
            );
            return config;
        }
    }
    let (f, args) = e.call().unwrap();
    let mut helper = None;
    let (func, arg) = if let Some(func) = is_nixos_system(&f) {
        if args.len() != 1 {
            block(
                &mut config,
                "nixosSystem is called with more than one argument".into(),
                e.range(),
            );
            return config;
        }
        (func, args[0].unparen())
    } else if let Some(name) = helper_name(&e, &scopes) {
        // Follow a helper defined in this file: bind its parameters to the
        // call's arguments and look for nixosSystem in its body.
        let Some(Bound::Expr(lam)) = scopes.lookup(&name).cloned() else {
            unreachable!("helper_name checked the binding")
        };
        let mut body = lam.unparen();
        for a in &args {
            let Some(l) = body.lambda() else {
                block(
                    &mut config,
                    format!("`{name}` takes fewer arguments than it is given"),
                    e.range(),
                );
                return config;
            };
            let mut bound = HashMap::new();
            match &l.param {
                Param::Ident { name } => {
                    bound.insert(name.clone(), Bound::Expr(a.clone()));
                }
                Param::Pattern { formals, bind, .. } => {
                    let given = a.unparen().attrset();
                    for fm in formals {
                        let from_arg = given.as_ref().and_then(|s| {
                            s.entries.iter().find_map(|en| match en {
                                Entry::Binding(b)
                                    if b.path.as_deref() == Some(&[fm.name.clone()][..]) =>
                                {
                                    Some(b.value.clone())
                                }
                                _ => None,
                            })
                        });
                        let b = from_arg
                            .or_else(|| fm.default.clone())
                            .map_or(Bound::Opaque, Bound::Expr);
                        bound.insert(fm.name.clone(), b);
                    }
                    if let Some(b) = bind {
                        bound.insert(b.clone(), Bound::Opaque);
                    }
                }
            }
            scopes.push_args(bound);
            body = l.body.unparen();
            while let Some(lt) = body.let_in() {
                scopes.push_entries(&lt.entries);
                body = lt.body.unparen();
            }
        }
        let Some((hf, hargs)) = body.call() else {
            block(
                &mut config,
                format!("the helper `{name}` does not return a nixosSystem call nixcross can see"),
                body.range(),
            );
            return config;
        };
        let Some(func) = is_nixos_system(&hf) else {
            block(
                &mut config,
                format!("the helper `{name}` does not call nixosSystem directly"),
                body.range(),
            );
            return config;
        };
        if hargs.len() != 1 {
            block(
                &mut config,
                "nixosSystem is called with more than one argument".into(),
                body.range(),
            );
            return config;
        }
        helper = Some((name.clone(), helper_uses.get(&name).copied().unwrap_or(1)));
        (func, hargs[0].unparen())
    } else {
        block(
            &mut config,
            format!(
                "`{}` is not a call to nixosSystem or to a helper defined in this file",
                short(&f.text())
            ),
            f.range(),
        );
        return config;
    };
    let Some(args) = arg.attrset() else {
        block(
            &mut config,
            "nixosSystem's argument is not a literal attribute set".into(),
            arg.range(),
        );
        return config;
    };
    if args.rec {
        scopes.push_entries(&args.entries);
    }
    let _ = doc;
    let mut call = Call {
        func,
        args: args.clone(),
        system: None,
        modules: None,
        special_args: None,
        inline_modules: Vec::new(),
        settings: Vec::new(),
        scopes: scopes.clone(),
        helper,
    };
    for entry in &args.entries {
        match entry {
            Entry::Binding(b) => match b.path.as_deref() {
                Some([k]) if k == "system" => {
                    call.system = Some((entry.clone(), trace(&b.value, &scopes)));
                }
                Some([k]) if k == "modules" => {
                    call.modules = Some(read_modules(&b.value, b.range));
                }
                Some([k]) if k == "specialArgs" => call.special_args = Some(b.value.clone()),
                Some(_) => {}
                None => {
                    if config.blocked.is_none() {
                        config.blocked = Some((
                            "nixosSystem's arguments have a dynamic name (`${...}`)".into(),
                            b.key_range,
                        ));
                    }
                }
            },
            Entry::Inherit(i) => {
                if i.names.iter().any(|(n, _)| n == "system") {
                    let v = match &i.from {
                        None => trace_name("system", &scopes),
                        Some(_) => {
                            Value::Unknown("`system` is inherited from an attribute set".into())
                        }
                    };
                    call.system = Some((entry.clone(), v));
                }
                if i.names.iter().any(|(n, _)| n == "modules") {
                    call.modules = Some(Modules {
                        list: None,
                        partial: true,
                        entry_range: i.range,
                    });
                }
            }
        }
    }
    if let Some(m) = &call.modules {
        if let Some(list) = &m.list {
            for item in &list.items {
                if let Some(body) = module::module_body(item) {
                    call.inline_modules.push(body);
                }
            }
        }
    }
    for (i, m) in call.inline_modules.iter().enumerate() {
        for option in PlatformOption::ALL {
            let (hits, opaque) = module::find_option(&m.set, &["nixpkgs", option.name()]);
            for hit in hits {
                let (expr, system) = if hit.rest.is_empty() {
                    read_platform(&hit.value, &scopes)
                } else if hit.rest.len() == 1
                    && (hit.rest[0] == "system" || hit.rest[0] == "config")
                {
                    let lit = hit.value.unparen();
                    let system = lit.string_literal().and_then(|s| double_of(&s));
                    (PlatformExpr::Other(lit), system)
                } else {
                    (PlatformExpr::Other(hit.value.clone()), None)
                };
                call.settings.push(PlatformSetting {
                    option,
                    module: i,
                    hit,
                    expr,
                    system,
                });
            }
            if let Some(o) = opaque.first() {
                if config.blocked.is_none() {
                    config.blocked = Some((o.reason.clone(), o.range));
                }
            }
            // `config.nixpkgs.<option>` (a module with `config`/`options`)
            // sets the same option; nixcross reads the top level only, so a
            // second definition would be added next to it.
            let (hits, opaque) = module::find_option(&m.set, &["config", "nixpkgs", option.name()]);
            let range = hits
                .first()
                .map(|h| h.entry().range())
                .or(opaque.first().map(|o| o.range));
            if let (Some(range), None) = (range, &config.blocked) {
                config.blocked = Some((
                    format!(
                        "an inline module may set `config.nixpkgs.{}`; nixcross reads and edits `nixpkgs.*` at the top of a module only",
                        option.name()
                    ),
                    range,
                ));
            }
        }
    }
    config.call = Some(call);
    config
}

fn trace_name(name: &str, scopes: &Scopes) -> Value {
    match scopes.lookup(name) {
        Some(Bound::Expr(e)) => match trace(e, scopes) {
            Value::Literal(mut t) => {
                t.via = Some(name.to_string());
                Value::Literal(t)
            }
            u => u,
        },
        Some(Bound::Opaque) => Value::Unknown(format!(
            "`{name}` is a function argument or inherited value, not a literal"
        )),
        None => Value::Unknown(format!("`{name}` is not defined in this file")),
    }
}

fn read_modules(value: &Node, entry_range: (usize, usize)) -> Modules {
    let v = value.unparen();
    if let Some(list) = v.list() {
        return Modules {
            list: Some(list),
            partial: false,
            entry_range,
        };
    }
    if v.kind() == Kind::Concat {
        let (l, r) = v.binop().unwrap();
        let (l, r) = (l.unparen(), r.unparen());
        let list = l.list().or_else(|| r.list());
        return Modules {
            list,
            partial: true,
            entry_range,
        };
    }
    Modules {
        list: None,
        partial: true,
        entry_range,
    }
}

/// An entry `key = value;` of an attribute set.
#[derive(Debug, Clone)]
pub struct KeyValue {
    pub key: String,
    pub value: Node,
    /// The whole entry.
    pub range: (usize, usize),
}

/// A scoped package set: `name = import nixpkgs { ... };`, passed to the
/// configuration through `specialArgs`.
#[derive(Debug, Clone)]
pub struct ScopedInstance {
    pub name: String,
    /// The `import nixpkgs { ... }` expression.
    pub expr: Node,
    /// Its argument set.
    pub args: AttrSetView,
    /// `localSystem = ...` (or the older `system = ...`).
    pub local: Option<KeyValue>,
    pub cross: Option<KeyValue>,
    pub overlays: Option<KeyValue>,
}

fn key_value(set: &AttrSetView, keys: &[&str]) -> Option<KeyValue> {
    set.entries.iter().find_map(|e| match e {
        Entry::Binding(b) => match b.path.as_deref() {
            Some([k]) if keys.contains(&k.as_str()) => Some(KeyValue {
                key: k.clone(),
                value: b.value.clone(),
                range: b.range,
            }),
            _ => None,
        },
        _ => None,
    })
}

/// `import <something> { ... }` as its argument set.
pub fn import_args(expr: &Node) -> Option<AttrSetView> {
    let (f, args) = expr.unparen().call()?;
    if f.reference()? != ["import"] || args.len() != 2 {
        return None;
    }
    args[1].unparen().attrset().filter(|s| !s.rec)
}

/// The scoped package sets a configuration receives through `specialArgs`.
pub fn scoped_instances(call: &Call) -> Vec<ScopedInstance> {
    let mut out = Vec::new();
    let Some(sa) = call
        .special_args
        .as_ref()
        .and_then(|s| s.unparen().attrset())
    else {
        return out;
    };
    let mut candidates: Vec<(String, Node)> = Vec::new();
    for e in &sa.entries {
        match e {
            Entry::Inherit(i) if i.from.is_none() => {
                for (n, _) in &i.names {
                    if let Some(Bound::Expr(v)) = call.scopes.lookup(n) {
                        candidates.push((n.clone(), v.clone()));
                    }
                }
            }
            Entry::Binding(b) => {
                let Some([n]) = b.path.as_deref() else {
                    continue;
                };
                let v = b.value.unparen();
                match v.ident().and_then(|id| call.scopes.lookup(&id).cloned()) {
                    Some(Bound::Expr(def)) => candidates.push((n.clone(), def)),
                    _ => candidates.push((n.clone(), v)),
                }
            }
            _ => {}
        }
    }
    for (name, expr) in candidates {
        let Some(args) = import_args(&expr) else {
            continue;
        };
        out.push(ScopedInstance {
            local: key_value(&args, &["localSystem", "system"]),
            cross: key_value(&args, &["crossSystem"]),
            overlays: key_value(&args, &["overlays"]),
            name,
            expr: expr.unparen(),
            args,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED_CROSS: &str = r#"{
  description = "NixOS running on LicheePi 4A";

  inputs = {
    nixpkgs.url = "github:nixos/nixpkgs/nixos-25.05";
  };

  outputs = inputs@{ self, nixpkgs, ... }: {
    nixosConfigurations.lp4a = nixpkgs.lib.nixosSystem {
      # native platform
      system = "x86_64-linux";
      modules = [

        # add this module, to enable cross-compilation.
        {
          nixpkgs.crossSystem = {
            # target platform
            system = "riscv64-linux";
          };
        }

        # ...... other modules
      ];
    };
  };
}
"#;

    #[test]
    fn reads_the_seed_cross_flake() {
        let f = Flake::parse(SEED_CROSS).unwrap();
        assert_eq!(f.configs.len(), 1);
        let c = &f.configs[0];
        assert_eq!(c.name, "lp4a");
        assert!(c.blocked.is_none(), "{:?}", c.blocked);
        let p = c.platforms();
        assert_eq!(p.build.as_deref(), Some("x86_64-linux"));
        assert_eq!(p.host.as_deref(), Some("riscv64-linux"));
        assert_eq!(p.style, Some("legacy"));
        assert_eq!(c.call.as_ref().unwrap().lib_expr(), "nixpkgs.lib");
    }

    #[test]
    fn shows_what_it_cannot_read_instead_of_dropping_it() {
        let blocked = |src: &str| -> Vec<(String, String)> {
            Flake::parse(src)
                .unwrap()
                .configs
                .into_iter()
                .map(|c| (c.name, c.blocked.map(|b| b.0).unwrap_or_default()))
                .collect()
        };
        // `inherit` inside nixosConfigurations.
        let got = blocked(
            "{ outputs = { nixpkgs, ... }: let a = nixpkgs.lib.nixosSystem { }; in { nixosConfigurations = { inherit a; b = nixpkgs.lib.nixosSystem { modules = [ ]; }; }; }; }",
        );
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!(got[0].0, "a");
        assert!(got[0].1.contains("inherited"), "{got:?}");
        assert_eq!(got[1], ("b".to_string(), String::new()));
        // A computed name, dotted or nested.
        for src in [
            "{ outputs = { nixpkgs, ... }: let n = \"x\"; in { nixosConfigurations.${n} = nixpkgs.lib.nixosSystem { }; }; }",
            "{ outputs = { nixpkgs, ... }: let n = \"x\"; in { nixosConfigurations = { ${n} = nixpkgs.lib.nixosSystem { }; }; }; }",
        ] {
            let got = blocked(src);
            assert_eq!(got.len(), 1, "{src}");
            assert_eq!(got[0].0, "${n}");
            assert!(got[0].1.contains("computed"), "{got:?}");
        }
        // `inherit (x) nixosConfigurations;`
        let got = blocked("{ outputs = { self, ... }: let x = import ./x.nix; in { inherit (x) nixosConfigurations; }; }");
        assert_eq!(got.len(), 1);
        assert!(got[0].1.contains("inherited"), "{got:?}");
        // Outputs inside `with`.
        let got = blocked("{ outputs = { nixpkgs, ... }: with nixpkgs.lib; { nixosConfigurations.w = nixosSystem { system = \"x86_64-linux\"; }; }; }");
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].0, "w");
        assert!(got[0].1.contains("with"), "{got:?}");
    }

    #[test]
    fn follows_let_variables_helpers_and_flake_parts() {
        let src = r#"{
  outputs = { nixpkgs, ... }:
    let
      system = "aarch64-linux";
      mkHost = sys: name: nixpkgs.lib.nixosSystem { system = sys; modules = [ ]; };
    in {
      nixosConfigurations = {
        a = nixpkgs.lib.nixosSystem { inherit system; modules = [ { nixpkgs.hostPlatform = "riscv64-linux"; } ]; };
        "b.c" = mkHost "x86_64-linux" "b";
        d = nixpkgs.lib.nixosSystem { } // { };
      };
    };
}"#;
        let f = Flake::parse(src).unwrap();
        let names: Vec<&str> = f.configs.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["a", "b.c", "d"]);
        let a = f.configs[0].platforms();
        assert_eq!(a.host.as_deref(), Some("riscv64-linux"));
        assert_eq!(a.style, Some("modern"));
        let b = &f.configs[1];
        assert_eq!(b.platforms().build.as_deref(), Some("x86_64-linux"));
        assert_eq!(
            b.call.as_ref().unwrap().helper.as_ref().unwrap().0,
            "mkHost"
        );
        assert!(f.configs[2].blocked.is_some());

        let parts = r#"{
  outputs = inputs@{ flake-parts, ... }:
    flake-parts.lib.mkFlake { inherit inputs; } {
      systems = [ "x86_64-linux" ];
      flake.nixosConfigurations.box = inputs.nixpkgs.lib.nixosSystem {
        system = "x86_64-linux";
        modules = [ ];
      };
    };
}"#;
        let f = Flake::parse(parts).unwrap();
        assert_eq!(f.configs.len(), 1);
        let with_let = parts
            .replace(
                "flake.nixosConfigurations.box =",
                "flake = let sys = \"x86_64-linux\"; in { nixosConfigurations.box =",
            )
            .replace(
                "      };
    };
}",
                "      }; };
    };
}",
            );
        let g = Flake::parse(&with_let).unwrap();
        assert_eq!(g.configs.len(), 1, "{with_let}");
        assert_eq!(g.configs[0].name, "box");
        assert_eq!(
            f.configs[0].call.as_ref().unwrap().lib_expr(),
            "inputs.nixpkgs.lib"
        );
    }
}
