//! Hostile input: random bytes and truncations never panic.

use nixcross::binfmt::{detect, magic_matches, Entry, Registration};
use proptest::prelude::*;

fn elf_like() -> impl Strategy<Value = Vec<u8>> {
    // Random bytes behind a real magic, so the decoders get past the first check.
    (
        prop_oneof![
            Just(b"\x7fELF".to_vec()),
            Just(b"MZ".to_vec()),
            Just(b"\0asm".to_vec()),
            Just(Vec::new())
        ],
        proptest::collection::vec(any::<u8>(), 0..300),
    )
        .prop_map(|(mut head, tail)| {
            head.extend(tail);
            head
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn detect_never_panics(bytes in elf_like()) {
        if let Ok(d) = detect(&bytes) {
            // Whatever is detected only names known platforms.
            for s in &d.systems {
                let cat = nixcross::platform::catalogue();
                prop_assert!(cat.system(s).is_some() || cat.can_emulate(s), "{}", s);
            }
        }
        for cut in [0, 1, 4, 19, 20, 40, 51, 63] {
            let _ = detect(&bytes[..cut.min(bytes.len())]);
        }
    }

    #[test]
    fn entry_parser_never_panics(text in "(enabled|disabled|interpreter [ -~]{0,20}|flags: [A-Z]{0,5}|offset [0-9]{0,25}|magic [0-9a-fA-Fg ]{0,50}|mask [0-9a-f]{0,50}|extension [.a-z]{0,5}|[ -~]{0,20})(\n(enabled|disabled|interpreter [ -~]{0,20}|flags: [A-Z]{0,5}|offset [0-9]{0,25}|magic [0-9a-f]{0,50}|mask [0-9a-f]{0,50}|[ -~]{0,20})){0,8}\n?",
                               header in proptest::collection::vec(any::<u8>(), 0..64)) {
        if let Ok(e) = Entry::parse("fuzz", &text) {
            let _ = e.matches(&header);
        }
    }

    #[test]
    fn entry_parser_takes_any_string(text in any::<String>()) {
        let _ = Entry::parse("fuzz", &text);
    }

    #[test]
    fn registration_parser_never_panics(text in any::<String>()) {
        let _ = Registration::parse_line(&text);
    }

    #[test]
    fn match_rule_never_panics(offset in 0usize..300, magic in proptest::collection::vec(any::<u8>(), 0..50),
                               mask in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..50)),
                               header in proptest::collection::vec(any::<u8>(), 0..100)) {
        let _ = magic_matches(offset, &magic, mask.as_deref(), &header);
    }
}
