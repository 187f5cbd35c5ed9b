//! The fuzzer's short run, and every input that ever made a parser panic.
//!
//! `make fuzz` runs a million inputs per target and saves any that panic
//! under `tests/fuzz/<target>/`; this test replays every saved input, so
//! a crash once found stays fixed, then runs ten thousand fresh inputs per
//! target. The first saved inputs are the ones that crashed nodes before
//! the checks of `chord::message` existed (a 255-bit identifier).

use std::fs;
use std::path::Path;

use chord_lab::harness::fuzz;

#[test]
fn every_input_that_ever_panicked_is_handled_now() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz");
    let mut replayed = 0;
    for target in fuzz::TARGETS {
        let Ok(entries) = fs::read_dir(root.join(target)) else {
            continue;
        };
        for entry in entries {
            let path = entry.expect("a directory entry").path();
            let input = fs::read(&path).expect("a saved input");
            assert!(fuzz::replay(target, &input), "{} panics", path.display());
            replayed += 1;
        }
    }
    assert!(replayed >= 4, "the saved crashes are missing: {replayed}");
}

#[test]
fn ten_thousand_inputs_per_target_panic_nowhere() {
    let crashes = std::env::temp_dir().join(format!("chord-fuzz-{}", std::process::id()));
    for target in fuzz::TARGETS {
        let report = fuzz::run(target, 10_000, 20261125, &crashes).expect("a run");
        assert_eq!(report.inputs, 10_000);
        assert_eq!(
            report.panics, 0,
            "{target}: inputs panicked, saved as {:?}; copy them to tests/fuzz/{target}/",
            report.saved
        );
    }
}
