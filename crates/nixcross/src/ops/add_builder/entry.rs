//! One entry of `nix.buildMachines`: how nixcross reads an item of the
//! list, writes a new one, and updates the fields of one that is there.

use super::*;

/// A list item of `nix.buildMachines`, as nixcross reads it.
pub(super) struct Item {
    pub(super) node: Node,
    /// The set, when the item is a literal set with a literal `hostName`
    /// and a `protocol` nixcross can read.
    pub(super) set: Option<AttrSetView>,
    pub(super) host: Option<String>,
    pub(super) protocol: Option<Protocol>,
}

/// The binding `name = ...;` of an item set (plain key only).
pub(super) fn field(set: &AttrSetView, name: &str) -> Option<syntax::Binding> {
    set.entries.iter().find_map(|e| match e {
        Entry::Binding(b)
            if b.path
                .as_deref()
                .is_some_and(|p| p.len() == 1 && p[0] == name) =>
        {
            Some(b.clone())
        }
        _ => None,
    })
}

pub(super) fn read_item(node: &Node) -> Item {
    let unknown = Item {
        node: node.clone(),
        set: None,
        host: None,
        protocol: None,
    };
    let Some(set) = node.unparen().attrset().filter(|s| !s.rec) else {
        return unknown;
    };
    // A dotted or inherited key could hide the fields.
    if set.entries.iter().any(|e| match e {
        Entry::Inherit(_) => true,
        Entry::Binding(b) => b.path.as_ref().is_none_or(|p| p.len() != 1),
    }) {
        return unknown;
    }
    let host = field(&set, "hostName").and_then(|b| b.value.unparen().string_literal());
    let protocol = match field(&set, "protocol") {
        None => Some(Protocol::Ssh),
        Some(b) => b
            .value
            .unparen()
            .string_literal()
            .and_then(|p| Protocol::from_scheme(&p)),
    };
    if host.is_none() || protocol.is_none() {
        return unknown;
    }
    Item {
        node: node.clone(),
        set: Some(set),
        host,
        protocol,
    }
}

impl Item {
    pub(super) fn is(&self, uri: &SshUri) -> bool {
        self.host.as_deref() == Some(uri.host.as_str()) && self.protocol == Some(uri.protocol)
    }
}

/// `[ "a" "b" ]`.
/// The fields of a new `nix.buildMachines` entry, in NixOS's order.
pub(super) fn entry_fields(uri: &SshUri, m: &Machine) -> Vec<(&'static str, String)> {
    let mut f: Vec<(&'static str, String)> = vec![("hostName", syntax::quote(&uri.host))];
    if let Some(u) = &uri.user {
        f.push(("sshUser", syntax::quote(u)));
    }
    f.push(("protocol", syntax::quote(uri.protocol.as_str())));
    f.push(("systems", syntax::string_list(&m.systems)));
    if let Some(k) = &m.ssh_key {
        f.push(("sshKey", syntax::quote(k)));
    }
    if let Some(n) = m.max_jobs {
        f.push(("maxJobs", n.to_string()));
    }
    if let Some(n) = m.speed_factor {
        f.push(("speedFactor", n.to_string()));
    }
    if !m.supported_features.is_empty() {
        f.push((
            "supportedFeatures",
            syntax::string_list(&m.supported_features),
        ));
    }
    if !m.mandatory_features.is_empty() {
        f.push((
            "mandatoryFeatures",
            syntax::string_list(&m.mandatory_features),
        ));
    }
    if let Some(k) = &m.public_host_key {
        f.push(("publicHostKey", syntax::quote(k)));
    }
    f
}

/// A new entry as generated text (column 0, two-space steps).
pub(super) fn entry_text(uri: &SshUri, m: &Machine) -> String {
    let body: Vec<String> = entry_fields(uri, m)
        .into_iter()
        .map(|(k, v)| format!("  {k} = {v};"))
        .collect();
    format!("{{\n{}\n}}", body.join("\n"))
}

/// The whole `nix.buildMachines` value for a new binding.
pub(super) fn list_text(uri: &SshUri, m: &Machine) -> String {
    format!("[\n  {}\n]", entry_text(uri, m).replace('\n', "\n  "))
}

/// The string items of a literal list value, or `None` when the value is
/// not a plain list of string literals.
pub(super) fn string_items(value: &Node) -> Option<(ListView, Vec<String>)> {
    let list = value.unparen().list()?;
    let items: Option<Vec<String>> = list
        .items
        .iter()
        .map(|i| i.unparen().string_literal())
        .collect();
    Some((list.clone(), items?))
}

/// How a field of an existing entry should end up.
pub(super) enum Want<'a> {
    /// Leave it as it is.
    Keep,
    Str(&'a str),
    Int(u32),
    List(&'a [String]),
}

/// Plan the update of one field of an entry set; returns whether it changes.
pub(super) fn update_field(
    e: &mut Edits,
    file: FileId,
    set: &AttrSetView,
    name: &str,
    want: Want,
    reason: &str,
) -> bool {
    let src = e.text(file);
    let layout = e.layout(file).clone();
    let value = match want {
        Want::Keep => return false,
        Want::Str(s) => syntax::quote(s),
        Want::Int(n) => n.to_string(),
        Want::List(l) => syntax::string_list(l),
    };
    let Some(b) = field(set, name) else {
        let edit = module::insert_entry(
            src,
            &layout,
            set,
            &format!("{name} = {value};"),
            Position::Last,
        );
        e.push(file, edit, reason);
        return true;
    };
    let v = b.value.unparen();
    let same = match want {
        Want::Keep => true,
        Want::Str(s) => v.string_literal().as_deref() == Some(s),
        Want::Int(n) => v.text().trim() == n.to_string(),
        Want::List(l) => string_items(&v).is_some_and(|(_, have)| {
            let mut a = have.clone();
            let mut b = l.to_vec();
            a.sort();
            a.dedup();
            b.sort();
            b.dedup();
            a == b
        }),
    };
    if same {
        return false;
    }
    // A list that only lacks items keeps its layout: append them.
    if let (Want::List(l), Some((list, have))) = (&want, string_items(&v)) {
        if have.iter().all(|h| l.contains(h)) && !have.is_empty() {
            let add: Vec<String> = l
                .iter()
                .filter(|x| !have.contains(x))
                .map(|x| syntax::quote(x))
                .collect();
            e.push(file, list::append(src, &layout, &list, &add), reason);
            return true;
        }
    }
    e.push(file, TextEdit::replace(b.value.range(), value), reason);
    true
}

/// Update the entry `set` to the request; returns the names of the fields changed.
pub(super) fn update_entry(
    e: &mut Edits,
    file: FileId,
    set: &AttrSetView,
    req: &Request,
    reason: &str,
) -> Vec<&'static str> {
    let m = &req.machine;
    let mut changed = Vec::new();
    // `system` wins over `systems` in NixOS: it goes, replaced by `systems`.
    if let Some(single) = field(set, "system") {
        let src = e.text(file);
        if field(set, "systems").is_some() {
            let edit = module::remove_entry(src, set, single.range);
            e.push(file, edit, reason);
        } else {
            e.push(
                file,
                TextEdit::replace(
                    single.range,
                    format!("systems = {};", syntax::string_list(&m.systems)),
                ),
                reason,
            );
            changed.push("systems");
        }
    }
    fn list(l: &[String]) -> Want<'_> {
        if l.is_empty() {
            Want::Keep
        } else {
            Want::List(l)
        }
    }
    let fields: Vec<(&'static str, Want)> = vec![
        (
            "sshUser",
            req.uri.user.as_deref().map_or(Want::Keep, Want::Str),
        ),
        (
            "systems",
            if changed.contains(&"systems") {
                Want::Keep
            } else {
                Want::List(&m.systems)
            },
        ),
        ("sshKey", m.ssh_key.as_deref().map_or(Want::Keep, Want::Str)),
        ("maxJobs", m.max_jobs.map_or(Want::Keep, Want::Int)),
        ("speedFactor", m.speed_factor.map_or(Want::Keep, Want::Int)),
        ("supportedFeatures", list(&m.supported_features)),
        ("mandatoryFeatures", list(&m.mandatory_features)),
        (
            "publicHostKey",
            m.public_host_key.as_deref().map_or(Want::Keep, Want::Str),
        ),
    ];
    for (name, want) in fields {
        if update_field(e, file, set, name, want, reason) {
            changed.push(name);
        }
    }
    changed
}
