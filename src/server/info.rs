//! `INFO`: its sections as Redis clients read them (server, clients,
//! memory, stats, cpu, keyspace, commandstats) and a `chord` section with
//! the node's place in the ring.

use super::Shared;

/// `INFO`: the usual sections, as far as they mean something here, and a
/// `chord` section; those named in `sections` (lower case), or the
/// default ones. A section chord does not have is left out, as Redis
/// leaves out one it does not know.
pub(super) fn info(shared: &Shared, sections: &[String]) -> String {
    let node = &shared.node;
    let view = node.view();
    let held = node.store_usage();
    let stats = node.stats();
    let count = |c: &std::sync::atomic::AtomicU64| c.load(std::sync::atomic::Ordering::Relaxed);
    let id = |n: &crate::id::NodeRef| format!("{}@{}", n.id, n.addr);
    let successors: Vec<String> = view.successors.iter().map(id).collect();
    let fingers_set = view.fingers.iter().filter(|(_, _, n)| n.is_some()).count();
    let clients = shared
        .text_clients
        .load(std::sync::atomic::Ordering::Relaxed);
    let port = node.me().addr.rsplit(':').next().unwrap_or("").to_string();
    let predecessor = view.predecessor.as_ref().map_or("none".to_string(), id);
    let (user, system) = cpu_seconds();
    let all: Vec<(&str, Vec<String>)> = vec![
        (
            "Server",
            vec![
                "redis_version:7.0.0".into(),
                format!("chord_version:{}", env!("CARGO_PKG_VERSION")),
                "redis_mode:cluster".into(),
                format!("process_id:{}", std::process::id()),
                format!("tcp_port:{port}"),
            ],
        ),
        ("Clients", vec![format!("connected_clients:{clients}")]),
        ("Persistence", persistence(node)),
        (
            "Memory",
            vec![
                format!("used_memory:{}", held.bytes),
                format!("maxmemory:{}", held.limit),
                "maxmemory_policy:noeviction".into(),
                "mem_allocator:libc".into(),
            ],
        ),
        (
            "Stats",
            vec![
                format!("total_connections_received:{}", count(&stats.connections)),
                format!("total_commands_processed:{}", count(&stats.client_requests)),
                format!("rejected_connections:{}", count(&stats.busy_rejections)),
            ],
        ),
        (
            "CPU",
            vec![
                format!("used_cpu_sys:{system:.6}"),
                format!("used_cpu_user:{user:.6}"),
            ],
        ),
        ("Commandstats", shared.commands.lines()),
        ("Cluster", vec!["cluster_enabled:1".into()]),
        (
            "Keyspace",
            vec![format!("db0:keys={},expires={}", held.keys, held.expiring)],
        ),
        (
            "Chord",
            vec![
                format!("id:{}", view.me.id),
                format!("address:{}", view.me.addr),
                format!("predecessor:{predecessor}"),
                format!("successors:{}", successors.join(",")),
                format!("fingers_set:{fingers_set}"),
                format!("keys_held:{}", view.keys),
            ],
        ),
    ];
    // As in Redis, commandstats is in "all" but not in the default INFO.
    let all_of_them = sections
        .iter()
        .any(|s| matches!(s.as_str(), "all" | "everything"));
    let default = sections.is_empty() || sections.iter().any(|s| s == "default");
    all.into_iter()
        .filter(|(name, _)| {
            let name = name.to_ascii_lowercase();
            all_of_them || (default && name != "commandstats") || sections.contains(&name)
        })
        .map(|(name, lines)| {
            let mut text = format!("# {name}\r\n");
            for line in lines {
                text += &line;
                text += "\r\n";
            }
            text
        })
        .collect::<Vec<_>>()
        .join("\r\n")
}

/// The CPU time this process has used, user and system, in seconds.
/// The `Persistence` section: Redis's names for what a data directory
/// does (see [`crate::disk`]), and a few of chord's own.
fn persistence(node: &crate::node::Node) -> Vec<String> {
    let Some(disk) = node.keys().disk() else {
        return vec!["loading:0".into(), "aof_enabled:0".into()];
    };
    let status = disk.status();
    vec![
        "loading:0".into(),
        "aof_enabled:1".into(),
        format!("appendfsync:{}", status.fsync),
        format!("aof_rewrite_in_progress:{}", u8::from(status.compacting)),
        format!("aof_rewrites:{}", status.compactions),
        format!(
            "aof_last_rewrite_time_sec:{}",
            status.last_compaction.as_secs()
        ),
        format!(
            "aof_last_write_status:{}",
            if status.failure.is_some() {
                "err"
            } else {
                "ok"
            }
        ),
        format!(
            "aof_current_size:{}",
            status.log_bytes + status.snapshot_bytes
        ),
        format!("aof_base_size:{}", status.snapshot_bytes),
        format!("data_dir:{}", disk.path().display()),
        format!("data_generation:{}", status.generation),
        format!("data_loaded_entries:{}", status.loaded),
        format!("data_loaded_ms:{}", status.loaded_in.as_millis()),
        format!("data_syncs:{}", status.syncs),
        format!("data_unsynced_bytes:{}", status.unsynced_bytes),
        format!("data_unsynced_ms:{}", status.unsynced_for.as_millis()),
        format!(
            "data_longest_unsynced_ms:{}",
            status.longest_unsynced.as_millis()
        ),
        format!("data_failure:{}", status.failure.unwrap_or_default()),
    ]
}

fn cpu_seconds() -> (f64, f64) {
    // SAFETY: getrusage fills the struct it is given, here a zeroed one
    // on the stack, and reads nothing else.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        if libc::getrusage(libc::RUSAGE_SELF, &mut usage) != 0 {
            return (0.0, 0.0);
        }
        usage
    };
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    (seconds(usage.ru_utime), seconds(usage.ru_stime))
}
