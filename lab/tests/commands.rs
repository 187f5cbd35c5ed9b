//! The `chord-lab` command itself: its help, and short runs of its
//! harnesses. The harnesses start the `chord` binary beside `chord-lab` as
//! their nodes; `make test` (the whole workspace) builds both.

use std::process::Command;

fn lab(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_chord-lab"))
        .args(args)
        .output()
        .expect("the chord-lab binary runs")
}

/// `chord-lab help churn` is `chord-lab churn --help`, and the command
/// list keeps every name apart from its text.
#[test]
fn help_is_the_same_both_ways_and_readable() {
    let text = |args: &[&str]| String::from_utf8_lossy(&lab(args).stdout).into_owned();
    assert_eq!(text(&["help", "churn"]), text(&["churn", "--help"]));
    let usage = text(&["--help"]);
    assert!(usage.contains("  partition  "), "{usage}");
    assert!(usage.starts_with("chord-lab: "), "{usage}");
}

#[test]
fn the_churn_harness_runs_checks_and_reports() {
    let logs = std::env::temp_dir().join(format!("chord-churn-test-{}", std::process::id()));
    let output = Command::new(env!("CARGO_BIN_EXE_chord-lab"))
        .args(["churn", "--nodes", "4", "--duration-s", "3", "--rate", "50"])
        .args([
            "--keys",
            "60",
            "--kill-every-ms",
            "1000",
            "--join-every-ms",
            "1000",
        ])
        .args(["--stabilize-ms", "50", "--seed", "3", "--logs"])
        .arg(&logs)
        .output()
        .expect("running chord-lab churn");
    let _ = std::fs::remove_dir_all(&logs);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for line in [
        "acknowledged writes lost=0",
        "increments acknowledged=",
        "counters after settling:",
        "stale reads during churn=",
        "availability during churn: GET",
        "latency ms: GET p50=",
        "nodes at start=4",
    ] {
        assert!(stdout.contains(line), "no {line:?} in:\n{stdout}");
    }
    assert!(
        !stdout.contains("kills=0 joins=0\n"),
        "nothing churned:\n{stdout}"
    );
}

/// `chord-lab bench` without redis-benchmark on the PATH says how to install
/// it, and fails.
#[test]
fn bench_without_redis_tools_says_how_to_install_them() {
    let out = Command::new(env!("CARGO_BIN_EXE_chord-lab"))
        .args(["bench", "--rounds", "1"])
        .env("PATH", "")
        .output()
        .expect("the chord-lab binary runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("redis-benchmark is not installed")
            && stderr.contains("apt-get install redis-tools"),
        "{stderr}"
    );
}
