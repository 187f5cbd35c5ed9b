//! A Redis client of another language, against a ring: redis-py, which
//! this test installs with pip (into `target/`) when it is not there yet.
//! The checks are in `tests/clients/redis_py.py`: a 10 MiB value, a binary
//! key, pipelines of 10,000 commands, a transaction on hash-tagged keys,
//! CROSSSLOT for untagged ones, and no warning from the client.
//!
//! Without Python 3 and pip (or the package registry), the test says it
//! skips and why; it does not pass in silence.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::TcpCluster;

/// Where redis-py is installed for the tests.
fn site() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/test-clients/python")
}

/// Installs redis-py into [`site`] unless it is there; why not, if it
/// cannot be.
fn redis_py() -> Result<PathBuf, String> {
    let site = site();
    let has = |site: &PathBuf| {
        Command::new("python3")
            .arg("-c")
            .arg(format!(
                "import sys; sys.path.insert(0, {:?}); import redis",
                site.display().to_string()
            ))
            .output()
            .is_ok_and(|out| out.status.success())
    };
    if has(&site) {
        return Ok(site);
    }
    let out = Command::new("python3")
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--target",
        ])
        .arg(&site)
        .arg("redis>=5")
        .output()
        .map_err(|e| format!("python3 could not be started: {e}"))?;
    if !out.status.success() || !has(&site) {
        return Err(format!(
            "pip could not install redis-py: {}",
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("")
        ));
    }
    Ok(site)
}

#[test]
fn redis_py_works_against_a_ring() {
    let site = match redis_py() {
        Ok(site) => site,
        Err(why) => {
            eprintln!("SKIPPED: redis-py is not available here ({why})");
            return;
        }
    };
    let cluster = TcpCluster::settled(4);
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/clients/redis_py.py");
    let out = Command::new("python3")
        .arg(&script)
        .arg(&site)
        .args(cluster.addrs())
        .output()
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("all checks passed"),
        "redis-py failed:\n{stdout}\n{stderr}"
    );
}
