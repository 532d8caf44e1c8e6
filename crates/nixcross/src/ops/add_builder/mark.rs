//! nixcross's mark on the settings add-builder writes for the builders it
//! adds (`# nixcross add-builder: pi5 (with tower)`): what it says, how it is
//! read back and written.

use super::*;

/// nixcross's mark on a setting it wrote for builders, in a comment of the
/// binding (`# nixcross add-builder: pi5`): the builders it was written for,
/// the ones listed already then (`(with tower)`), and whether it replaced a
/// `false` (`(was false)`). When the last of its builders goes, so does the
/// setting (or the `false` comes back), unless a builder listed since needs
/// it: add, then remove, gives back the original bytes. A mark without
/// builders (`# nixcross add-builder`, as nixcross wrote it before) goes
/// with the last builder nixcross can see.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Mark {
    pub(super) hosts: Vec<String>,
    pub(super) with: Vec<String>,
    /// Entries listed then that nixcross cannot read (`(with tower and 2 more)`).
    pub(super) with_unread: usize,
    pub(super) was_false: bool,
}

impl Mark {
    /// The mark of a setting written for `host`, next to the builders
    /// `listed` already.
    pub(super) fn new(host: &str, listed: &[Option<String>]) -> Mark {
        Mark {
            hosts: vec![host.to_string()],
            with: listed
                .iter()
                .flatten()
                .filter(|h| *h != host)
                .cloned()
                .collect(),
            with_unread: listed.iter().filter(|h| h.is_none()).count(),
            was_false: false,
        }
    }

    /// The comment's text (without `#` or `/* */`).
    pub(super) fn text(&self) -> String {
        let mut t = MARK.to_string();
        if !self.hosts.is_empty() {
            t.push_str(&format!(": {}", self.hosts.join(" ")));
        }
        let mut with = self.with.join(" ");
        if self.with_unread > 0 {
            if !with.is_empty() {
                with.push_str(" and ");
            }
            with.push_str(&format!("{} more", self.with_unread));
        }
        if !with.is_empty() {
            t.push_str(&format!(" (with {with})"));
        }
        if self.was_false {
            t.push_str(" (was false)");
        }
        t
    }

    /// Read a comment's text after `nixcross add-builder`.
    pub(super) fn parse(rest: &str) -> Mark {
        let mut m = Mark::default();
        let rest = rest.trim();
        let (names, notes) = match rest.find('(') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        m.hosts = names
            .trim_start_matches(':')
            .split_whitespace()
            .map(str::to_string)
            .collect();
        for note in notes.split('(').map(|n| n.trim().trim_end_matches(')')) {
            if note == "was false" {
                m.was_false = true;
            } else if let Some(w) = note.strip_prefix("with ") {
                let (names, more) = match w.rsplit_once(" more") {
                    Some((head, "")) => match head.rsplit_once(' ') {
                        Some((names, n)) => (names.trim_end_matches(" and"), n),
                        None => ("", head),
                    },
                    _ => (w, "0"),
                };
                m.with = names.split_whitespace().map(str::to_string).collect();
                m.with_unread = more.parse().unwrap_or(0);
            }
        }
        m
    }
}

/// The mark on the setting at `hit` (in the binding, or its same-line
/// trailing comment), with the range of the comment that carries it and
/// whether that is a `#` comment.
pub(super) fn read_mark(src: &str, hit: &OptionHit) -> Option<(Mark, (usize, usize), bool)> {
    let node = hit.entry_node();
    let (start, end) = (
        node.start(),
        syntax::after_trailing_comment(src, node.end()),
    );
    let at = start + src[start..end].find(MARK)?;
    let before = src[start..at].trim_end();
    if let Some(open) = before.strip_suffix("/*") {
        let from = start + open.len();
        let close = at + src[at..end].find("*/")?;
        let m = Mark::parse(&src[at + MARK.len()..close]);
        return Some((m, (from, close + 2), false));
    }
    let hash = before.strip_suffix('#')?;
    let from = start + hash.len();
    let to = end - usize::from(src[..end].ends_with('\r'));
    let m = Mark::parse(&src[at + MARK.len()..to]);
    Some((m, (from, to), true))
}

/// The builders a module's literal `nix.buildMachines` list names
/// (`None` for an entry nixcross cannot read).
pub(super) fn listed_hosts(m: &BuilderModule) -> Vec<Option<String>> {
    let Some((_, hit)) = &m.machines else {
        return Vec::new();
    };
    ListOption::read(hit.entry_node(), hit.value.clone())
        .editable()
        .map(|(l, _)| l.items.iter().map(|i| read_item(i).host).collect())
        .unwrap_or_default()
}

/// The comment that carries `mark`, `#` or `/* */` as the old one was.
pub(super) fn mark_comment(mark: &Mark, line: bool) -> String {
    if line {
        format!("# {}", mark.text())
    } else {
        format!("/* {} */", mark.text())
    }
}
