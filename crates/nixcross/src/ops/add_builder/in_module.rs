//! Adding, updating and removing a builder in one module: its list (through
//! the module-list engine), and the settings nixcross writes with it.

use super::*;

/// Add or update the builder in one module, with the settings it needs.
/// `configured` says what other modules of the configuration already set
/// (distributedBuilds, builders-use-substitutes).
pub(super) fn add_in_module(
    e: &mut Edits,
    m: &BuilderModule,
    req: &Request,
    configured: (bool, bool),
    summary: &mut Vec<String>,
) -> Result<()> {
    let file = m.file;
    let uri = &req.uri;
    let what = format!("builder {uri} ({})", req.machine.systems.join(", "));
    let mut defs: Vec<NewDef> = Vec::new();
    match &m.machines {
        Some((place, hit)) => {
            note_condition(e, file, &m.places[*place]);
            let def = ListOption::read(hit.entry_node(), hit.value.clone());
            // A builder listed already is updated where it is: in the
            // literal list, or under its condition (`lib.mkIf c [ ... ]`,
            // alone or merged with a list of no condition).
            let listed = match &def.shape {
                ListShape::Literal {
                    list, conditional, ..
                } => {
                    (match conditional {
                        Some(c) => update_under_condition(e, file, c, req, summary)?,
                        None => false,
                    }) || update_listed(e, file, list, req, summary)?
                }
                ListShape::Conditional { list, lib: true } => {
                    update_under_condition(e, file, list, req, summary)?
                }
                ListShape::Computed => false,
                ListShape::Conditional { lib: false, .. } | ListShape::Opaque => {
                    return Err(e.error_at(
                        Error::refused(format!(
                            "nix.buildMachines is {}, which nixcross cannot tell is a list, so it cannot add to it safely",
                            describe(&hit.value)
                        ))
                        .hint("add the builder by hand, or give nix.buildMachines a literal list (`[ ... ] ++ other` is fine)"),
                        &Src::new(file, hit.value.clone()),
                    ));
                }
            };
            if !listed {
                let s = format!("added {what} to nix.buildMachines");
                let entry = [entry_text(uri, &req.machine)];
                match add_to_list(e, file, &def, &entry, &s).expect("a shape nixcross adds to") {
                    Added::Appended => {}
                    Added::Concatenated => e.warnings.push(format!(
                        "nix.buildMachines is {}; nixcross added the builder with `++ [ ... ]`: check that the computed part does not list {uri} too",
                        describe(&hit.value)
                    ).into()),
                    Added::Merged => e.warnings.push(format!(
                        "nix.buildMachines is a list under a condition; nixcross merged {uri} with it (`lib.mkMerge`), so it is used whatever the condition says"
                    ).into()),
                }
                summary.push(s);
            }
        }
        None => defs.push(NewDef::new(
            &MACHINES,
            list_text(uri, &req.machine),
            format!("added {what} to nix.buildMachines"),
        )),
    }
    finish_settings(e, m, req, configured, defs, summary)
}

/// Update the builder where the literal `list` has it already (refusing a
/// list that has it twice); whether it was there. Warns about entries
/// nixcross cannot read.
pub(super) fn update_listed(
    e: &mut Edits,
    file: FileId,
    list: &ListView,
    req: &Request,
    summary: &mut Vec<String>,
) -> Result<bool> {
    let uri = &req.uri;
    let items: Vec<Item> = list.items.iter().map(read_item).collect();
    let same: Vec<&Item> = items.iter().filter(|i| i.is(uri)).collect();
    if same.len() > 1 {
        return Err(e.error_at(
            Error::refused(format!(
                "{uri} is listed more than once in nix.buildMachines"
            )),
            &Src::new(file, same[1].node.clone()),
        ));
    }
    unknown_items_warning(e, &items, uri);
    let Some(item) = same.first() else {
        return Ok(false);
    };
    let set = item.set.clone().expect("a matched item is a literal set");
    let what = format!("builder {uri} ({})", req.machine.systems.join(", "));
    let changed = update_entry(
        e,
        file,
        &set,
        req,
        &format!("update {what} in nix.buildMachines"),
    );
    if !changed.is_empty() {
        summary.push(format!(
            "updated {uri} in nix.buildMachines ({})",
            changed.join(", ")
        ));
    }
    Ok(true)
}

/// Update the builder where the list under a condition `listed` has it
/// already; whether it was there. It stays under the condition, as the
/// module's author chose (listing it again, unconditionally, would list it
/// twice), and nixcross says so.
pub(super) fn update_under_condition(
    e: &mut Edits,
    file: FileId,
    listed: &ListView,
    req: &Request,
    summary: &mut Vec<String>,
) -> Result<bool> {
    if !update_listed(e, file, listed, req, summary)? {
        return Ok(false);
    }
    e.warnings.push(format!(
        "{} is in nix.buildMachines already, under its condition; nixcross leaves it there, so it is used when the condition holds",
        req.uri
    ).into());
    Ok(true)
}

/// `distributedBuilds` and `builders-use-substitutes`, then every new
/// definition at once.
pub(super) fn finish_settings(
    e: &mut Edits,
    m: &BuilderModule,
    req: &Request,
    configured: (bool, bool),
    mut defs: Vec<NewDef>,
    summary: &mut Vec<String>,
) -> Result<()> {
    let file = m.file;
    let src = e.text(file);
    let host = req.uri.host.as_str();
    let mark = Mark::new(host, &listed_hosts(m));
    // A setting nixcross marked for other builders is now for this one too.
    let also_for = |e: &mut Edits, hit: &OptionHit| {
        if let Some((mut old, range, line)) = read_mark(src, hit) {
            if !old.hosts.is_empty() && !old.hosts.iter().any(|h| h == host) {
                old.hosts.push(host.to_string());
                e.push(
                    file,
                    TextEdit::replace(range, mark_comment(&old, line)),
                    &format!("nixcross's settings serve {host} too"),
                );
            }
        }
    };
    match &m.distributed {
        _ if configured.0 => {}
        None => {
            defs.push(
                NewDef::new(&DISTRIBUTED, "true", "set nix.distributedBuilds = true")
                    .marked(mark.text()),
            );
            claim_toggle(e, Toggle::DistributedBuilds, Some(true));
        }
        Some((_, hit)) => match hit.value.unparen().text().as_str() {
            "true" => also_for(e, hit),
            "false" => {
                claim_toggle(e, Toggle::DistributedBuilds, Some(true));
                let s = "set nix.distributedBuilds = true (it was false, which leaves every builder unused)".to_string();
                let flipped = Mark {
                    was_false: true,
                    ..mark.clone()
                };
                e.push(
                    file,
                    TextEdit::replace(
                        hit.value.unparen().range(),
                        format!("true {}", mark_comment(&flipped, false)),
                    ),
                    &s,
                );
                summary.push(s);
            }
            other => e.warnings.push(
                format!(
                    "nix.distributedBuilds is `{}`; NixOS uses the builders only when it is true",
                    syntax::compact(other)
                )
                .into(),
            ),
        },
    }
    match &m.substitutes {
        _ if configured.1 => {}
        Substitutes::Absent => {
            defs.push(
                NewDef::new(
                    &SUBSTITUTES,
                    "true",
                    format!("set nix.settings.{SUBSTITUTES_WHY}"),
                )
                .marked(mark.text()),
            );
            claim_toggle(e, Toggle::BuildersUseSubstitutes, Some(true));
        }
        Substitutes::Set(hit) => also_for(e, hit),
        Substitutes::InExtraOptions => {}
        Substitutes::Unknown(why) => e.warnings.push(format!(
            "nixcross cannot tell whether nix.settings sets builders-use-substitutes ({why}); consider setting it to true"
        ).into()),
    }
    insert_defs(e, file, &m.places, &defs)?;
    summary.extend(defs.into_iter().map(|d| d.reason));
    Ok(())
}

pub(super) fn unknown_items_warning(e: &mut Edits, items: &[Item], uri: &SshUri) {
    let unknown: Vec<String> = items
        .iter()
        .filter(|i| i.set.is_none())
        .map(|i| syntax::compact(&i.node.text()).chars().take(40).collect())
        .collect();
    if !unknown.is_empty() {
        e.warnings.push(format!(
            "nix.buildMachines has entries nixcross cannot read ({}); check that none of them is {uri} too",
            unknown.join("; ")
        ).into());
    }
}

/// Takes a module left empty out of the configuration's modules list.
pub(super) type RemoveModule<'a> = &'a dyn Fn(&mut Edits) -> Result<()>;

/// Remove the builder from one module. `remove_module` takes the module
/// itself out when nothing is left in it (an inline module of a flake).
pub(super) fn remove_in_module(
    e: &mut Edits,
    m: &BuilderModule,
    req: &Request,
    summary: &mut Vec<String>,
    remove_module: Option<RemoveModule>,
) -> Result<bool> {
    let file = m.file;
    let src = e.text(file);
    let uri = &req.uri;
    let Some((_, hit)) = &m.machines else {
        return Ok(false);
    };
    // A builder under a condition (`lib.mkIf c [ ... ]`) can be taken out.
    let def = ListOption::read(hit.entry_node(), hit.value.clone());
    let Some((list, around)) = def.editable() else {
        e.warnings.push(format!(
            "nix.buildMachines is {}, which nixcross cannot read; if it lists {uri}, take it out by hand",
            describe(&hit.value)
        ).into());
        return Ok(false);
    };
    let items: Vec<Item> = list.items.iter().map(read_item).collect();
    let found: Vec<Node> = items
        .iter()
        .filter(|i| i.is(uri))
        .map(|i| i.node.clone())
        .collect();
    if found.is_empty() {
        if items.iter().any(|i| i.set.is_none()) {
            unknown_items_warning(e, &items, uri);
        }
        return Ok(false);
    }
    let s = format!("removed builder {uri} from nix.buildMachines");
    let mut removals: Vec<Node> = Vec::new();
    // No builder nixcross can see is left: the literal list goes empty, or
    // the `++ [ ... ]` side goes and only the expression it extended (which
    // nixcross does not write) is left.
    let none_left = found.len() == list.items.len()
        && matches!(
            around,
            None | Some(list::Around::Priority | list::Around::Concat | list::Around::Condition)
        );
    match def.remove(src, &found) {
        Removal::Definition => removals.push(def.entry.clone()),
        Removal::Edits(edits) => {
            for edit in edits {
                e.push(file, edit, &s);
            }
        }
    }
    summary.push(s.clone());
    // The settings nixcross wrote for this builder go with it (see `Mark`).
    let left: Vec<Option<String>> = items
        .iter()
        .filter(|i| !i.is(uri))
        .map(|i| i.host.clone())
        .collect();
    let settings = [
        (
            Toggle::DistributedBuilds,
            m.distributed.as_ref().map(|(_, h)| h),
        ),
        (
            Toggle::BuildersUseSubstitutes,
            match &m.substitutes {
                Substitutes::Set(h) => Some(h),
                _ => None,
            },
        ),
    ];
    for (toggle, hit) in settings {
        let Some(hit) = hit else { continue };
        let Some((mark, range, line)) = read_mark(src, hit) else {
            continue;
        };
        let dotted = toggle.dotted();
        let gone = if mark.hosts.is_empty() {
            // An old mark: it goes with the last builder nixcross can see.
            none_left
        } else if !mark.hosts.iter().any(|h| h == &uri.host) {
            false
        } else {
            let rest: Vec<String> = mark
                .hosts
                .iter()
                .filter(|h| *h != &uri.host)
                .cloned()
                .collect();
            // Listed by hand since: it needs the setting, which stays,
            // marked as the old marks were.
            let needed = left
                .iter()
                .flatten()
                .any(|h| !mark.with.contains(h) && !rest.contains(h))
                || left.iter().filter(|h| h.is_none()).count() > mark.with_unread;
            if !rest.is_empty() || needed {
                let kept = Mark {
                    hosts: rest,
                    ..mark.clone()
                };
                let kept = if kept.hosts.is_empty() {
                    Mark::default()
                } else {
                    kept
                };
                e.push(
                    file,
                    TextEdit::replace(range, mark_comment(&kept, line)),
                    &s,
                );
                false
            } else {
                true
            }
        };
        if !gone {
            continue;
        }
        if mark.was_false {
            // `true /* ... (was false) */` becomes `false` again.
            claim_toggle(e, toggle, Some(false));
            e.push(
                file,
                TextEdit::replace((hit.value.unparen().start(), range.1), "false"),
                &s,
            );
            summary.push(format!(
                "set {dotted} = false again (as it was before nixcross)"
            ));
        } else {
            claim_toggle(e, toggle, None);
            removals.push(hit.entry_node());
            summary.push(format!(
                "removed {dotted} (nixcross added it for the builders it added)"
            ));
        }
    }
    if removals.is_empty() {
        return Ok(true);
    }
    let (edits, top_empty) = places::remove_bindings(src, &m.top, &removals);
    match (top_empty, remove_module) {
        (true, Some(hook)) => hook(e)?,
        // A module body left empty is `{ }`, whatever lines it had (but
        // the comments it has).
        (true, None)
            if !module::comment_outside(
                src,
                (m.top.open + 1, m.top.close),
                &edits.iter().map(|e| e.range.into()).collect::<Vec<_>>(),
            ) =>
        {
            e.push(
                file,
                TextEdit::replace((m.top.open + 1, m.top.close), " "),
                &s,
            )
        }
        _ => {
            for edit in edits {
                e.push(file, edit, &s);
            }
        }
    }
    Ok(true)
}
