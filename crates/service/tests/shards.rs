//! Rendezvous sharding: from N to N+1 shards about 1/(N+1) of the devices move, all of them to
//! the new shard; every shard gets its share; `--shard auto` reads the pod's ordinal.

use service::{Shard, shard_of};

fn ids() -> Vec<String> {
    (0..10_000)
        .map(|i| format!("site{}-meter-{i}", i % 7))
        .collect()
}

#[test]
fn growing_by_one_shard_moves_about_one_in_n_plus_one_and_only_to_the_new_shard() {
    let ids = ids();
    let mut report = Vec::new();
    for n in 1..=16u32 {
        let mut moved = 0;
        for id in &ids {
            let before = shard_of(id, n);
            let after = shard_of(id, n + 1);
            if before != after {
                moved += 1;
                assert_eq!(
                    after, n,
                    "{id} moved between old shards ({before} -> {after})"
                );
            }
        }
        let fraction = f64::from(moved) / ids.len() as f64;
        let ideal = 1.0 / f64::from(n + 1);
        report.push(format!("{n}->{}: {fraction:.4} (ideal {ideal:.4})", n + 1));
        assert!(
            (fraction - ideal).abs() < 0.02,
            "{n} -> {}: {fraction:.4} moved, ideal {ideal:.4}",
            n + 1
        );
    }
    eprintln!("moved fractions: {}", report.join(", "));
}

#[test]
fn every_shard_gets_its_share() {
    let ids = ids();
    for n in [2u32, 3, 5, 8, 16] {
        let mut counts = vec![0usize; n as usize];
        for id in &ids {
            counts[shard_of(id, n) as usize] += 1;
        }
        let ideal = ids.len() as f64 / f64::from(n);
        for (i, c) in counts.iter().enumerate() {
            assert!(
                (*c as f64 - ideal).abs() < ideal * 0.1,
                "shard {i} of {n} has {c}, ideal {ideal}"
            );
        }
    }
}

#[test]
fn shard_auto_takes_the_pods_ordinal_and_the_manifests_count() {
    let shard = Shard::auto(Some("evctl-3"), None, Some("5")).expect("auto");
    assert_eq!((shard.index, shard.count), (3, 5));
    let shard = Shard::auto(Some("whatever"), Some("1"), Some("2")).expect("index from env");
    assert_eq!((shard.index, shard.count), (1, 2));
    let err = Shard::auto(Some("evctl-3"), None, None).expect_err("no count");
    assert!(err.contains("EVCTL_SHARD_COUNT"), "{err}");
    let err = Shard::auto(Some("evctl"), None, Some("2")).expect_err("no ordinal");
    assert!(err.contains("does not end in a number"), "{err}");
    let err = Shard::auto(Some("evctl-7"), None, Some("4")).expect_err("out of range");
    assert!(err.contains("below the count"), "{err}");
}
