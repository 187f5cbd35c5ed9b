//! The Makefile's own promises that can be checked without building or
//! starting anything: `make -n` prints what a target would run.

use std::process::Command;

/// What `make -n <args>` would run, from the project's directory.
fn dry_run(args: &[&str]) -> String {
    let out = Command::new("make")
        .args(["-n", "--no-print-directory"])
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("make runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A ring's pid files, logs and secret go only where git ignores them:
/// `.ring`, or `.memory` for `make memory`'s ring, whatever RING says.
#[test]
fn the_ring_directory_is_one_git_ignores() {
    let ignored = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/.gitignore"))
        .expect("a .gitignore");
    for dir in [".ring/", ".memory/"] {
        assert!(ignored.lines().any(|l| l == dir), "{dir} is not ignored");
    }
    let elsewhere = dry_run(&["stop", "RING=somewhere-else"]);
    assert!(elsewhere.contains(".ring/*.pid"), "{elsewhere}");
    assert!(!elsewhere.contains("somewhere-else"), "{elsewhere}");
    assert!(dry_run(&["stop", "RING=.memory"]).contains(".memory/*.pid"));
}

/// `make screenshot` and `make screenshots` write where git ignores, so
/// that taking them leaves the committed pictures alone and `git status`
/// clean.
#[test]
fn a_screenshot_goes_where_git_ignores() {
    let ignored = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/.gitignore"))
        .expect("a .gitignore");
    assert!(ignored.lines().any(|l| l == "target/"));
    let run = dry_run(&["screenshot"]);
    assert!(run.contains("/?key=hello\" target/page.png "), "{run}");
    let run = dry_run(&["screenshots"]);
    assert!(run.contains(" target/screenshots/$name.png "), "{run}");
    assert!(!run.contains("figures/screenshots"), "{run}");
}

/// `make ring` gives each node a data directory under the ring's own
/// (`.ring/data/PORT`, so git ignores it); `FRESH=1` empties it first,
/// `DURABLE=0` keeps the keys in memory only, and the temporary rings of
/// other targets do that, so they never touch the ring's data.
#[test]
fn ring_data_lives_under_the_ring_directory_and_only_fresh_deletes_it() {
    let run = dry_run(&["ring"]);
    assert!(
        run.contains("--data-dir .ring/data/$port --fsync everysec"),
        "{run}"
    );
    assert!(!run.contains("rm -rf .ring/data;"), "{run}");
    let fresh = dry_run(&["ring", "FRESH=1"]);
    assert!(fresh.contains("rm -rf .ring/data;"), "{fresh}");
    let memory = dry_run(&["ring", "DURABLE=0"]);
    assert!(!memory.contains("--data-dir"), "{memory}");
    let always = dry_run(&["ring", "FSYNC=always"]);
    assert!(always.contains("--fsync always"), "{always}");
    let makefile = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Makefile"))
        .expect("the Makefile");
    for line in makefile
        .lines()
        .filter(|l| l.contains("$(MAKE) --no-print-directory ring "))
    {
        assert!(
            line.contains("DURABLE=0"),
            "a temporary ring keeps data: {line}"
        );
    }
}
