//! The deployment recipe of `docs/protocols.md`, followed to the letter
//! (`chord-lab deploy`, `make deploy`): two "machines", network namespaces
//! joined by a veth pair with IPv6 addresses, one shared secret file, the
//! first node started with `--listen '[::]:4000' --advertise
//! '[fd00:c0d::1]:4000' --secret-file ...`, the second the same with its own
//! address and `--join '[fd00:c0d::1]:4000'`; then a key written through one
//! machine is read through the other, a node without the secret is refused,
//! and a node on every interface without `--advertise` refuses to start.
//! It needs root (`ip netns`), and says so without it.

use std::fs;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use super::netns::{in_netns, Network};
use super::nodes::ring_size;
use chord::client::Client;

/// The two machines' addresses, from the unique local range.
const ADDRS: [&str; 2] = ["fd00:c0d::1", "fd00:c0d::2"];

/// The port of the recipe.
const PORT: u16 = 4000;

/// A node process of the run, killed when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs `chord` with `args` in namespace `ns`, its log in `log`.
fn start(exe: &Path, ns: &str, args: &[String], log: &Path) -> Result<Running, String> {
    let log = fs::File::create(log).map_err(|e| format!("creating {}: {e}", log.display()))?;
    Command::new("ip")
        .args(["netns", "exec", ns])
        .arg(exe)
        .args(args)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .map(Running)
        .map_err(|e| format!("starting chord in {ns}: {e}"))
}

/// One request line's answer, from inside namespace `ns`.
fn ask(ns: &str, addr: &str, line: &str) -> Result<String, String> {
    let (addr, line) = (addr.to_string(), line.to_string());
    in_netns(ns, move || {
        Client::connect(&addr, Duration::from_secs(5))
            .and_then(|mut c| c.line(&line))
            .map_err(|e| format!("{addr}: {e}"))
    })?
}

/// Follows the recipe; whether every step did what the docs say.
///
/// # Errors
/// Without root, or when a step cannot be carried out at all.
pub fn deploy(exe: &Path, logs: &Path) -> Result<bool, String> {
    // SAFETY: geteuid(2) has no arguments and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Err("make deploy needs root: it creates network namespaces (ip netns)".into());
    }
    fs::create_dir_all(logs).map_err(|e| format!("creating {}: {e}", logs.display()))?;
    let network = Network::create(ADDRS, 64)?;
    let [a, b] = &network.sides;
    // The recipe's secret, made the way the docs make it.
    let secret = logs.join("ring.secret");
    let made = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \\n' > {}",
            secret.display()
        ))
        .status()
        .map_err(|e| format!("making the secret: {e}"))?;
    if !made.success() {
        return Err("making the secret file failed".into());
    }
    let secret = secret.display().to_string();
    let advertised = |i: usize| format!("[{}]:{PORT}", ADDRS[i]);
    let listen = format!("[::]:{PORT}");
    let node = |i: usize, join: bool| {
        let mut args = vec![
            "node".to_string(),
            "--listen".into(),
            listen.clone(),
            "--advertise".into(),
            advertised(i),
            "--secret-file".into(),
            secret.clone(),
        ];
        if join {
            args.extend(["--join".into(), advertised(0)]);
        }
        args
    };
    let mut passed = true;
    let mut check = |what: &str, ok: bool| {
        println!("{} {what}", if ok { "ok  " } else { "FAIL" });
        passed &= ok;
    };

    // On every interface without --advertise: refused, saying what to add.
    let refused = Command::new("ip")
        .args(["netns", "exec", a])
        .arg(exe)
        .args(["node", "--listen", &listen])
        .output()
        .map_err(|e| format!("running chord: {e}"))?;
    let said = String::from_utf8_lossy(&refused.stderr).to_string();
    check(
        "a node on [::] without --advertise refuses to start and says to add it",
        !refused.status.success() && said.contains("--advertise"),
    );

    let first = start(exe, a, &node(0, false), &logs.join("machine-a.log"))?;
    let deadline = Instant::now() + Duration::from_secs(10);
    while ask(a, &advertised(0), "PING").is_err() && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(50));
    }
    let second = start(exe, b, &node(1, true), &logs.join("machine-b.log"))?;
    let first_addr = advertised(0);
    let formed = Instant::now() + Duration::from_secs(30);
    let mut size = 0;
    while Instant::now() < formed {
        let addr = first_addr.clone();
        size = in_netns(a, move || ring_size(&addr).unwrap_or(0))?;
        if size == 2 {
            break;
        }
        thread::sleep(Duration::from_millis(100));
    }
    check("the two machines form one ring over IPv6", size == 2);
    let put = ask(b, &advertised(1), "PUT recipe works over IPv6")?;
    let got = ask(a, &advertised(0), "GET recipe")?;
    check(
        "a key written on one machine reads on the other",
        put == "OK" && got == "VALUE works over IPv6",
    );

    // A third node with another secret is refused at the handshake.
    let stranger_secret = logs.join("other.secret");
    fs::write(&stranger_secret, "another secret entirely")
        .map_err(|e| format!("writing {}: {e}", stranger_secret.display()))?;
    let stranger = Command::new("ip")
        .args(["netns", "exec", b])
        .arg(exe)
        .args(["node", "--listen", &format!("[{}]:{}", ADDRS[1], PORT + 1)])
        .args(["--secret-file", &stranger_secret.display().to_string()])
        .args(["--join", &advertised(0)])
        .output()
        .map_err(|e| format!("running chord: {e}"))?;
    check(
        "a node without the ring's secret is refused",
        !stranger.status.success(),
    );
    drop((first, second));
    drop(network);
    Ok(passed)
}
