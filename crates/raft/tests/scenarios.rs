//! The worked Raft examples `synod scenario` prints end where their words say.

use synod_raft::scenario::{election, replication, World};

fn quiet() -> impl FnMut(&str) {
    |_: &str| {}
}

fn logs(w: &World) -> Vec<Vec<(u64, u64)>> {
    (1..=3).map(|id| w.state(id).expect("a server").2).collect()
}

#[test]
fn the_election_story_ends_with_one_leader_in_term_3_that_every_server_follows() {
    let mut out = quiet();
    let w = election(&mut out).expect("on script");
    let leader = w.leader().expect("a leader");
    assert_ne!(leader, 1, "server 1 was cut off when terms 2 and 3 began");
    for id in 1..=3 {
        let (term, commit, _) = w.state(id).expect("a server");
        assert_eq!((term, commit), (3, 2), "server {id}");
    }
    let logs = logs(&w);
    assert!(logs.iter().all(|l| *l == vec![(1, 1), (2, 3)]), "{logs:?}");
}

#[test]
fn the_replication_story_ends_with_the_lagging_follower_caught_up() {
    let mut out = quiet();
    let w = replication(&mut out).expect("on script");
    assert_eq!(w.leader(), Some(1));
    let logs = logs(&w);
    assert!(
        logs.iter()
            .all(|l| *l == vec![(1, 1), (2, 1), (3, 1), (4, 1)]),
        "{logs:?}"
    );
    for id in 1..=3 {
        assert_eq!(
            w.state(id).expect("a server").1,
            4,
            "server {id} commits all"
        );
    }
}

#[test]
fn each_step_is_printed_with_every_servers_state() {
    let mut lines = Vec::new();
    let mut out = |l: &str| lines.push(l.to_string());
    election(&mut out).expect("on script");
    assert_eq!(lines.iter().filter(|l| l.starts_with("step")).count(), 7);
    assert!(
        lines.iter().any(|l| l.contains("vote refused")),
        "the split vote is shown"
    );
    assert_eq!(lines.iter().filter(|l| l.contains("= server")).count(), 21);
}

#[test]
fn figure_8_shows_an_old_term_entry_on_a_majority_uncommitted_then_overwritten() {
    use synod_raft::scenario::figure_8;
    let mut lines = Vec::new();
    let mut out = |l: &str| lines.push(l.to_string());
    let w = figure_8(&mut out).expect("on script");
    // Where step 5 left it: 2@1 on a majority while the leader had not committed index 2.
    let step5 = lines
        .iter()
        .skip_while(|l| !l.starts_with("step   5"))
        .take_while(|l| !l.starts_with("step   6"))
        .cloned()
        .collect::<Vec<_>>();
    let holding = step5.iter().filter(|l| l.contains("2@1 write")).count();
    assert!(holding >= 3, "2@1 on a majority of 5 in step 5: {step5:#?}");
    assert!(
        step5
            .iter()
            .any(|l| l.starts_with("           = server 1:") && l.contains("committed up to 0")),
        "the leader did not commit it: {step5:#?}"
    );
    // At the end: server 5 leads term 4, and index 2 holds 2@2 on every server but the crashed 1.
    assert_eq!(w.leader(), Some(5));
    for id in 2..=5 {
        assert!(w.holds(id, 2, 2), "server {id} replaced 2@1 with 2@2");
        assert!(!w.holds(id, 2, 1));
    }
}
