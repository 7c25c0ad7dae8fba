//! Redis Cluster, first part (issue 17, deliverable 5): a real three-master cluster
//! started by the test ([`OwnCluster`]), and what troupe's key layout already gets right
//! on it. The engine does not run on a cluster yet (docs/status.md says what is left:
//! the shared rate bucket in `release`, plugin state keys without a namespace tag, the
//! feed's multi-run `XREADGROUP`, a cluster client); these pin the parts it will build on.

use std::collections::HashSet;
use troupe::engine::Keys;
use troupe_tests::own_cluster::{query, OwnCluster};
use troupe_tests::root;

#[test]
fn a_runs_keys_share_one_slot_and_runs_spread_over_every_master() {
    let cluster = OwnCluster::start();
    let keys = Keys::new("troupe");
    let mut masters = HashSet::new();
    for n in 0..24 {
        let run = format!("order-{n}");
        let all = keys.run_keys(&run, ["fetch", "split-pages"], ["Pass", "Upper"]);
        let slots: HashSet<u16> = all.iter().map(|k| cluster.slot(k)).collect();
        assert_eq!(slots.len(), 1, "run {run}: its {} keys fall in slots {slots:?}", all.len());
        let slot = *slots.iter().next().unwrap();
        masters.insert(cluster.master_of(slot));
    }
    assert_eq!(masters.len(), 3, "24 runs land on every master: {masters:?}");
}

#[test]
fn the_library_loads_on_every_master_and_an_enqueue_stays_on_its_runs_node() {
    let cluster = OwnCluster::start();
    let library = std::fs::read_to_string(root().join("host/src/engine/redis/troupe.lua")).unwrap();
    for url in cluster.urls() {
        let name: String = query(&url, &["FUNCTION", "LOAD", "REPLACE", &library]).expect("FUNCTION LOAD");
        assert_eq!(name, "troupe_v5", "{url}");
    }
    let keys = Keys::new("troupe");
    let run = "order-7";
    let node = cluster.master_of(cluster.slot(&keys.run(run)));
    let (base, stage_hash) = (keys.base(run), keys.stage(run, "fetch"));
    let _: i64 = query(&node, &["HSET", &keys.run(run), "status", r#"{"state":"running"}"#]).unwrap();
    // One plain task (no delay, no rate, no hooks): every key the function writes is the
    // run's, so the node that owns the run's slot takes the whole call.
    let added: i64 = query(
        &node,
        &[
            "FCALL",
            "troupe_v5_enqueue",
            "1",
            &stage_hash,
            &base,
            "troupe",
            run,
            "fetch",
            "",
            "",
            "0",
            r#"{"a":"Pass"}"#,
            "Pass",
            r#"{"page": 1}"#,
            "",
            "",
        ],
    )
    .unwrap_or_else(|e| panic!("enqueue on the run's node: {e}"));
    assert_eq!(added, 1);
    let queued: i64 = query(&node, &["XLEN", &keys.queue(run, "Pass")]).unwrap();
    assert_eq!(queued, 1, "the task is in the run's Pass stream, on the run's node");
    // Any other node refuses the run's keys: MOVED names the owner.
    let other = cluster.urls().into_iter().find(|u| *u != node).unwrap();
    let moved = query::<i64>(&other, &["XLEN", &keys.queue(run, "Pass")]).unwrap_err();
    let owner = node.trim_start_matches("redis://");
    assert!(moved.to_string().starts_with("Moved") && moved.to_string().ends_with(owner), "{moved}");
}
