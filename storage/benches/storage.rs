//! Storage benchmarks: open time (raw key vs passphrase), message appends per
//! second (one transaction each, WAL), and full-text search latency over
//! 100,000 incidents. Run with `cargo bench -p storage`; results are recorded
//! in `bench/README.md`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use storage::repo::{conversations, issues, messages};
use storage::{Db, DbConfig, DbKey, Role, Store};

fn config(dir: &std::path::Path, key: DbKey) -> DbConfig {
    DbConfig {
        path: dir.join("tftsr.db"),
        key,
        key_source: "bench".into(),
    }
}

fn open_time(c: &mut Criterion) {
    let raw_dir = tempfile::tempdir().unwrap();
    let pass_dir = tempfile::tempdir().unwrap();
    let raw = config(raw_dir.path(), DbKey::Raw([1; 32]));
    let pass = config(
        pass_dir.path(),
        DbKey::Passphrase("bench passphrase".into()),
    );
    drop(Db::open(&raw).unwrap());
    drop(Db::open(&pass).unwrap());
    let mut g = c.benchmark_group("open");
    g.sample_size(20);
    g.bench_function("raw_key", |b| b.iter(|| black_box(Db::open(&raw).unwrap())));
    g.bench_function("passphrase_pbkdf2_256k", |b| {
        b.iter(|| black_box(Db::open(&pass).unwrap()))
    });
    g.finish();
}

fn message_appends(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let mut db = Db::open(&config(dir.path(), DbKey::Raw([2; 32]))).unwrap();
    let conv = db
        .write(|tx| {
            let issue = issues::insert(
                tx,
                &issues::NewIssue {
                    title: "bench".into(),
                    ..Default::default()
                },
            )?;
            conversations::insert(tx, &issue.id, "bench", "bench", None)
        })
        .unwrap();
    let msg = messages::NewMessage {
        role: Role::Assistant,
        content: "The connection pool was exhausted at 14:02; see [IPV4_1] in the log.".into(),
        token_count: 20,
        tool_calls: None,
        tool_call_id: None,
    };
    let mut g = c.benchmark_group("append_message");
    g.throughput(Throughput::Elements(1));
    g.bench_function("sync_one_tx_each", |b| {
        b.iter(|| db.write(|tx| messages::append(tx, &conv.id, &msg)).unwrap())
    });
    drop(db);

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let store = rt
        .block_on(Store::open(config(dir.path(), DbKey::Raw([2; 32]))))
        .unwrap();
    g.bench_function("async_store_one_tx_each", |b| {
        b.to_async(&rt).iter(|| {
            let (store, conv, msg) = (store.clone(), conv.id.clone(), msg.clone());
            async move {
                store
                    .write(move |tx| messages::append(tx, &conv, &msg))
                    .await
                    .unwrap()
            }
        })
    });
    g.finish();
}

const WORDS: &[&str] = &[
    "timeout",
    "latency",
    "disk",
    "memory",
    "replication",
    "kafka",
    "dns",
    "certificate",
    "deploy",
    "rollback",
    "pod",
    "node",
    "cpu",
    "throttling",
    "queue",
    "backlog",
    "login",
    "ldap",
    "vpn",
    "bgp",
    "switch",
    "firmware",
    "raid",
    "controller",
    "nginx",
    "upstream",
    "502",
    "postgres",
    "lock",
    "vacuum",
];

fn fts_search(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let mut db = Db::open(&config(dir.path(), DbKey::Raw([3; 32]))).unwrap();
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    db.write(|tx| {
        for i in 0..100_000u32 {
            let pick = |n: u64| WORDS[(n % WORDS.len() as u64) as usize];
            let title = format!("{} {} incident {i}", pick(next()), pick(next()));
            let description = (0..12).map(|_| pick(next())).collect::<Vec<_>>().join(" ");
            issues::insert(
                tx,
                &issues::NewIssue {
                    title,
                    description: Some(description),
                    ..Default::default()
                },
            )?;
        }
        issues::insert(
            tx,
            &issues::NewIssue {
                title: "Needle".into(),
                description: Some("zookeeper quorum lost".into()),
                ..Default::default()
            },
        )?;
        Ok(())
    })
    .unwrap();
    let f = issues::IssueFilter {
        limit: Some(20),
        ..Default::default()
    };
    let mut g = c.benchmark_group("fts_100k_issues");
    g.measurement_time(Duration::from_secs(5));
    g.bench_function("rare_word", |b| {
        b.iter(|| assert_eq!(issues::search(db.conn(), "zookeeper", &f).unwrap().len(), 1))
    });
    g.bench_function("common_two_words_top20", |b| {
        b.iter(|| black_box(issues::search(db.conn(), "kafka timeout", &f).unwrap()))
    });
    g.finish();
}

criterion_group!(benches, open_time, message_appends, fts_search);
criterion_main!(benches);
