//! Unit tests of loading and validating configs.

use super::*;

const GOOD: &str = r#"
    protocol = "raft"
    [[nodes]]
    id = 1
    peer_addr = "127.0.0.1:7001"
    http_addr = "127.0.0.1:8001"
"#;

#[test]
fn a_minimal_config_gets_defaults() {
    let cfg = Config::from_toml(GOOD).unwrap();
    assert_eq!(cfg.protocol, "raft");
    assert_eq!(cfg.tick(), std::time::Duration::from_millis(50));
    assert_eq!(cfg.cluster_id, "synod");
    assert_eq!(cfg.storage.backend, Backend::Wal);
    assert_eq!(cfg.data_dir(&cfg.nodes[0]), Path::new("data/synod/node-1"));
}

#[test]
fn a_wrong_protocol_names_the_field_and_the_allowed_values() {
    let err = Config::from_toml(&GOOD.replace("\"raft\"", "\"rafft\""))
        .unwrap_err()
        .to_string();
    assert!(err.contains("protocol"), "{err}");
    assert!(err.contains("rafft"), "{err}");
    assert!(err.contains("\"raft\""), "{err}");
    assert!(err.contains("\"paxos\""), "{err}");
}

#[test]
fn paxos_roles_are_checked() {
    let paxos = GOOD.replace("\"raft\"", "\"paxos\"");
    let observer = paxos.replace(
        "http_addr = \"127.0.0.1:8001\"",
        "http_addr = \"127.0.0.1:8001\"\nroles = [\"learner\", \"acceptor\", \"proposer\"]",
    );
    assert!(Config::from_toml(&observer).is_ok());
    let no_learner = paxos.replace(
        "http_addr = \"127.0.0.1:8001\"",
        "http_addr = \"127.0.0.1:8001\"\nroles = [\"acceptor\", \"proposer\"]",
    );
    let err = Config::from_toml(&no_learner).unwrap_err().to_string();
    assert!(err.contains("must include \"learner\""), "{err}");
    let bad = paxos.replace(
        "http_addr = \"127.0.0.1:8001\"",
        "http_addr = \"127.0.0.1:8001\"\nroles = [\"scribe\"]",
    );
    let err = Config::from_toml(&bad).unwrap_err().to_string();
    assert!(err.contains("scribe"), "{err}");
    let raft_roles = GOOD.replace(
        "http_addr = \"127.0.0.1:8001\"",
        "http_addr = \"127.0.0.1:8001\"\nroles = [\"learner\"]",
    );
    let err = Config::from_toml(&raft_roles).unwrap_err().to_string();
    assert!(err.contains("roles"), "{err}");
}

#[test]
fn unknown_fields_and_bad_values_are_refused_by_name() {
    let err = Config::from_toml(&format!("{GOOD}\n[raft]\ntick_msec = 3\n"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("tick_msec"), "{err}");
    let err = Config::from_toml(&format!("{GOOD}\n[raft]\nelection_ticks_min = 30\n"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("election_ticks_max"), "{err}");
    let paxos = GOOD.replace("\"raft\"", "\"paxos\"");
    let err = Config::from_toml(&format!("{paxos}\n[paxos]\nmax_inflight = 0\n"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("paxos.max_inflight"), "{err}");
    let err = Config::from_toml(&format!("{GOOD}\n[storage]\nsnapshot_keys_per_step = 0\n"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("snapshot_keys_per_step"), "{err}");
    let err = Config::from_toml(&format!("{GOOD}\n[network]\noutbound_queue_bytes = 0\n"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("outbound_queue_bytes"), "{err}");
    let err = Config::from_toml(&format!("{GOOD}\n[http]\nworkers = 0\n"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("http.workers"), "{err}");
    let err = Config::from_toml(&format!("{GOOD}\n[limits]\nmax_pending_bytes = 1000\n"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("max_pending_bytes"), "{err}");
    // A cas of two 1 MiB values does not fit a 2 MiB frame.
    let err = Config::from_toml(&format!(
        "{GOOD}\n[network]\nmax_frame_bytes = 2097152\n[limits]\nmax_value_bytes = 1048576\n"
    ))
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("max_frame_bytes") && err.contains("cas"),
        "{err}"
    );
    let err = Config::from_toml(&format!(
        "{GOOD}\n[network]\nmax_frame_bytes = 1073741824\n"
    ))
    .unwrap_err()
    .to_string();
    assert!(err.contains("at most"), "{err}");
    let err = Config::from_toml(&GOOD.replace("127.0.0.1:7001", "nowhere"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("peer_addr"), "{err}");
}

#[test]
fn tables_no_protocol_owns_and_typos_in_any_protocol_section_are_refused() {
    let err = Config::from_toml(&format!("{GOOD}\n[rafft]\ntick_ms = 3\n"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("`rafft`") && err.contains("\"paxos\""),
        "{err}"
    );
    // Another protocol's section is read too, so switching protocols finds no surprise.
    let err = Config::from_toml(&format!("{GOOD}\n[paxos]\nresend_tick = 3\n"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("resend_tick") && err.contains("[paxos]"),
        "{err}"
    );
    let cfg = Config::from_toml(&format!("{GOOD}\n[paxos]\nresend_ticks = 3\n")).unwrap();
    let paxos = cfg.sections["paxos"].clone().into_table().unwrap();
    assert_eq!(paxos["resend_ticks"].clone().into_int().unwrap(), 3);
}

#[test]
fn duplicate_ids_are_refused() {
    let twice = format!(
        "{GOOD}{}",
        GOOD.replace("protocol = \"raft\"", "")
            .replace("7001", "7002")
            .replace("8001", "8002")
    );
    let err = Config::from_toml(&twice).unwrap_err().to_string();
    assert!(err.contains("appears twice"), "{err}");
}

#[test]
fn the_shipped_configs_load() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../configs");
    for name in ["raft.toml", "raft-5.toml", "paxos.toml", "paxos-5.toml"] {
        let cfg = Config::load(&Path::new(dir).join(name)).unwrap();
        assert!(cfg.nodes.len() >= 3, "{name}");
    }
}
