//! A machines-file line round-trips: any machine `add-builder` accepts
//! (`Machine::validate`) is written by `to_machines_line` and read back by
//! `Machine::parse` (and by `parse_machines`, as part of a file with
//! comments and `;` separators) as the same machine. The field order is
//! Nix's (`parseBuilderLine` in machines.cc): URI, systems, SSH key, jobs,
//! speed factor, supported features, mandatory features, base64 host key.

use base64::Engine;
use nixcross::machines::{parse_machines, Machine, Protocol, SshUri};
use proptest::prelude::*;

fn name() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9-]{0,10}(\\.[a-z0-9]{1,6}){0,2}"
}

fn machine() -> impl Strategy<Value = Machine> {
    let systems: Vec<String> = nixcross::platform::catalogue()
        .systems
        .iter()
        .map(|s| s.system.clone())
        .collect();
    (
        (
            any::<bool>(),
            proptest::option::of("[a-z_][a-z0-9_.-]{0,8}"),
            name(),
        ),
        proptest::sample::subsequence(systems.clone(), 1..4),
        proptest::option::of("(/[a-z0-9_.@=+-]{1,8}){1,3}"),
        (
            proptest::option::of(1u32..512),
            proptest::option::of(1u32..100),
        ),
        (
            proptest::sample::subsequence(
                vec![
                    "kvm",
                    "big-parallel",
                    "nixos-test",
                    "benchmark",
                    "gccarch-armv8-a",
                ],
                0..3,
            ),
            proptest::sample::subsequence(vec!["kvm", "big-parallel", "benchmark"], 0..2),
        ),
        proptest::option::of(proptest::collection::vec(any::<u8>(), 32)),
    )
        .prop_map(
            |((ng, user, host), systems, key, (jobs, speed), (f, mf), hostkey)| {
                let mut m = Machine::new(SshUri {
                    protocol: if ng { Protocol::SshNg } else { Protocol::Ssh },
                    user,
                    host,
                });
                m.systems = systems;
                m.ssh_key = key.filter(|k| !k.starts_with("/nix/store/"));
                m.max_jobs = jobs;
                m.speed_factor = speed;
                m.supported_features = f.into_iter().map(str::to_string).collect();
                m.mandatory_features = mf.into_iter().map(str::to_string).collect();
                m.public_host_key = hostkey.map(|bytes| {
                    let blob = base64::engine::general_purpose::STANDARD.encode(bytes);
                    base64::engine::general_purpose::STANDARD
                        .encode(format!("ssh-ed25519 {blob} root@builder"))
                });
                m
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn lines_round_trip(m in machine()) {
        m.validate().map_err(|e| TestCaseError::fail(e.message))?;
        let line = m.to_machines_line();
        prop_assert_eq!(line.split(' ').count(), 8, "{}", line);
        prop_assert_eq!(&Machine::parse(&line).unwrap(), &m);
        let (all, bad) = parse_machines(&format!("# builders\n{line} # this one\nssh://other x86_64-linux ; {line}\n"));
        prop_assert!(bad.is_empty());
        prop_assert_eq!(all.len(), 3);
        prop_assert_eq!(&all[0], &m);
        prop_assert_eq!(&all[2], &m);
    }
}
