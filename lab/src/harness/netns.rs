//! Two network namespaces joined by a veth pair, for the harnesses that
//! need a real network between nodes (`make partition`, `make deploy`):
//! created by `ip netns`, which needs root, and removed when dropped,
//! however the run ends.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::process::Command;
use std::thread;

/// The two namespaces and the veth pair between them; removed on drop.
pub(super) struct Network {
    /// The namespaces' names.
    pub(super) sides: [String; 2],
    /// Each side's address on the veth pair.
    pub(super) addrs: [String; 2],
    /// The veth pair's ends, one in each namespace.
    pub(super) veth: [String; 2],
}

pub(super) fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("running ip {}: {e}", args.join(" ")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

impl Network {
    /// Two namespaces named after this process, a veth pair between
    /// them, and `addrs` on its ends (IPv4 or IPv6, with `prefix` bits of
    /// network). An IPv6 address is usable at once: duplicate address
    /// detection is skipped, as nothing else is on the link.
    pub(super) fn create(addrs: [&str; 2], prefix: u8) -> Result<Network, String> {
        let pid = std::process::id();
        let veth = [
            format!("chp{}a", pid % 100_000),
            format!("chp{}b", pid % 100_000),
        ];
        let network = Network {
            sides: [format!("chord-{pid}-a"), format!("chord-{pid}-b")],
            addrs: addrs.map(str::to_string),
            veth: veth.clone(),
        };
        for ns in &network.sides {
            ip(&["netns", "add", ns])?;
            ip(&["-n", ns, "link", "set", "lo", "up"])?;
        }
        ip(&[
            "link",
            "add",
            &veth[0],
            "netns",
            &network.sides[0],
            "type",
            "veth",
            "peer",
            "name",
            &veth[1],
            "netns",
            &network.sides[1],
        ])?;
        for ((ns, addr), veth) in network.sides.iter().zip(&network.addrs).zip(&veth) {
            let cidr = format!("{addr}/{prefix}");
            let mut add = vec!["-n", ns, "addr", "add", &cidr, "dev", veth];
            if addr.contains(':') {
                add.push("nodad");
            }
            ip(&add)?;
            ip(&["-n", ns, "link", "set", veth, "up"])?;
        }
        Ok(network)
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        // Deleting a namespace deletes its end of the veth pair, and with
        // it the other end.
        for ns in &self.sides {
            if let Err(e) = ip(&["netns", "del", ns]) {
                eprintln!("removing the network namespace {ns}: {e}");
            }
        }
    }
}

/// Runs `work` on a thread inside the network namespace `ns`.
pub(super) fn in_netns<T: Send + 'static>(
    ns: &str,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, String> {
    let path = format!("/var/run/netns/{ns}");
    let handle = thread::spawn(move || -> Result<T, String> {
        let file = File::open(&path).map_err(|e| format!("opening {path}: {e}"))?;
        // SAFETY: setns(2) moves only this thread into the namespace the
        // open file names; it reads no memory of ours.
        if unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
            return Err(format!(
                "entering {path}: {}",
                std::io::Error::last_os_error()
            ));
        }
        Ok(work())
    });
    handle
        .join()
        .map_err(|_| "a harness thread panicked".to_string())?
}
