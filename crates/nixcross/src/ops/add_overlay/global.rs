//! Global overlays: `nixpkgs.overlays` of the configuration, where an
//! overlay that sets the attribute already is changed in place, a new one
//! joins the configuration's own literal list (through the module-list
//! engine), and `--remove` takes them out again.

use super::*;

/// Add the pairs to the configuration's `nixpkgs.overlays`; returns the
/// pairs that were not already in effect.
pub(super) fn global_overlay(
    p: &mut Planner,
    args: &(String, String),
    pairs: &[Pair],
) -> Result<Vec<Pair>> {
    let defs = p.sys.overlays.clone();
    let all: Vec<OverlayView> = defs.iter().flat_map(|d| d.overlays.clone()).collect();
    let now = effective(&all);
    let mut missing: Vec<Pair> = Vec::new();
    for pair in pairs {
        if now.get(&pair.attr) == Some(&pair.package) {
            continue;
        }
        // An overlay that sets the attribute already: change it in place.
        let mut changed = false;
        for d in defs.iter().rev() {
            for o in d.overlays.iter().rev() {
                let Some(b) = overlay_binding(o, &pair.attr) else {
                    continue;
                };
                let Some(Entry::Binding(bind)) = b.as_entry() else {
                    continue;
                };
                let Some((a, _)) = &o.args else { continue };
                let Some(r) = bind.value.reference() else {
                    continue;
                };
                if r.len() < 2 || (&r[0] != a && o.args.as_ref().is_none_or(|(_, b)| &r[0] != b)) {
                    continue;
                }
                let src = Src::new(d.site.file, bind.value.clone());
                if !p.private(src.file, src.range()) {
                    continue;
                }
                p.replace_node(
                    &src,
                    &format!("{}.{}", r[0], pair.package),
                    &format!("overlay {} = {}", pair.attr, pair.package),
                )?;
                changed = true;
                break;
            }
            if changed {
                break;
            }
        }
        if !changed {
            missing.push(pair.clone());
        }
    }
    if missing.is_empty() {
        return Ok(pairs
            .iter()
            .filter(|p| now.get(&p.attr) != Some(&p.package))
            .cloned()
            .collect());
    }
    let text = overlay_text(args, &missing);
    let reason = format!("overlay {}", describe(&missing));
    // Append to the last literal overlays list this configuration owns.
    if let Some(d) = defs.iter().rev().find(|d| {
        d.list
            .as_ref()
            .is_some_and(|l| p.private(l.file, l.range()))
    }) {
        let list = d.list.clone().expect("checked");
        let lv = list.node.list().expect("a list");
        let e = list::append(p.text(list.file), p.layout(list.file), &lv, &[text]);
        p.push(list.file, e, &reason);
        return Ok(missing);
    }
    if let Some(d) = defs.iter().find(|d| d.list.is_none()) {
        let value = match d.site.node.as_entry() {
            Some(Entry::Binding(b)) => compact(&b.value.text()),
            _ => "inherited".into(),
        };
        // A definition that is not a list: a new one next to it merges.
        if p.private(d.site.file, d.site.range()) {
            let at = match d.site.node.as_entry() {
                Some(Entry::Binding(b)) => Src::new(d.site.file, b.value.clone()),
                _ => d.site.clone(),
            };
            return Err(p.error_at(
                Error::refused(format!(
                    "nixpkgs.overlays is `{value}`, not a literal list, so nixcross cannot add to it"
                )),
                &at,
            ));
        }
    }
    p.insert_option(
        &["nixpkgs", "overlays"],
        &format!("[ {text} ]"),
        &format!("Overlay for the whole system: {}.", describe(&missing)),
        &reason,
    )?;
    Ok(missing)
}

/// Remove the overlays of `attrs` from `nixpkgs.overlays`: an overlay
/// that sets only them goes from its list (the list as the module-list
/// engine takes items out, `ListOption::remove`), else their bindings go
/// from it.
pub(super) fn remove_global(p: &mut Planner, attrs: &[String]) -> Result<()> {
    let defs = p.sys.overlays.clone();
    let reason = format!("remove the overlay of {}", attrs.join(", "));
    let mut found = false;
    for d in &defs {
        let Some(list) = &d.list else { continue };
        let Some(Entry::Binding(binding)) = d.site.node.as_entry() else {
            continue;
        };
        let def = ListOption::read(d.site.node.clone(), binding.value.clone());
        let Some((lv, _)) = def.editable() else {
            continue;
        };
        let mut whole: Vec<syntax::Node> = Vec::new();
        for o in &d.overlays {
            let Some(pairs) = &o.pairs else { continue };
            let hits: Vec<&String> = attrs
                .iter()
                .filter(|a| pairs.iter().any(|(x, _)| x == *a))
                .collect();
            if hits.is_empty() {
                continue;
            }
            found = true;
            p.guard(list.file, list.range(), "the overlays list")?;
            if hits.len() == pairs.len() {
                whole.push(item_holding(lv, &o.node));
                continue;
            }
            for a in hits {
                let Some(b) = overlay_binding(o, a) else {
                    continue;
                };
                let Some(set) = b.parent_set() else { continue };
                let e = module::remove_entry(p.text(list.file), &set, b.range());
                p.push(list.file, e, &reason);
            }
        }
        if whole.is_empty() {
            continue;
        }
        match def.remove(p.text(list.file), &whole) {
            Removal::Definition => p.remove_binding(&d.site, &reason)?,
            Removal::Edits(edits) => {
                for e in edits {
                    p.push(list.file, e, &reason);
                }
            }
        }
    }
    if !found {
        p.core.warnings.push(
            format!(
                "no overlay nixcross recognises sets {}; nothing to remove",
                attrs.join(", ")
            )
            .into(),
        );
    }
    Ok(())
}
