//! The async handle: many tasks writing at once lose nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use storage::Store;
use storage::repo::{conversations, messages};
use storage::{Role, StorageError};

/// A new incident with one conversation.
async fn new_conversation(store: &Store, title: &str) -> conversations::Conversation {
    let title = title.to_owned();
    store
        .write(move |tx| {
            let issue = storage::repo::issues::insert(
                tx,
                &storage::repo::issues::NewIssue {
                    title,
                    ..Default::default()
                },
            )?;
            conversations::insert(tx, &issue.id, "test", "test", None)
        })
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_tasks_times_500_inserts_are_all_present() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(common::raw_config(dir.path())).await.unwrap();
    let conv = new_conversation(&store, "load").await;
    let mut tasks = Vec::new();
    for t in 0..20 {
        let store = store.clone();
        let conv = conv.id.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..500 {
                let target = conv.clone();
                store
                    .write(move |tx| {
                        messages::append(
                            tx,
                            &target,
                            &messages::NewMessage {
                                role: Role::User,
                                content: format!("task {t} message {i}"),
                                token_count: 1,
                                tool_calls: None,
                                tool_call_id: None,
                            },
                        )
                    })
                    .await
                    .unwrap();
                if i % 100 == 0 {
                    // Reads interleave with the writes.
                    let conv = conv.clone();
                    store
                        .read(move |c| messages::total_tokens(c, &conv))
                        .await
                        .unwrap();
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let conv_id = conv.id.clone();
    let all = store
        .read(move |c| messages::list(c, &conv_id))
        .await
        .unwrap();
    assert_eq!(all.len(), 10_000);
    let seqs: Vec<i64> = all.iter().map(|m| m.seq).collect();
    assert_eq!(
        seqs,
        (1..=10_000).collect::<Vec<i64>>(),
        "no gaps, no duplicates"
    );
    let mut contents: Vec<&str> = all.iter().map(|m| m.content.as_str()).collect();
    contents.sort_unstable();
    contents.dedup();
    assert_eq!(contents.len(), 10_000);
    // Within one task, order is kept.
    let task3: Vec<usize> = all
        .iter()
        .filter_map(|m| m.content.strip_prefix("task 3 message "))
        .map(|n| n.parse().unwrap())
        .collect();
    assert_eq!(task3, (0..500).collect::<Vec<usize>>());
}

#[tokio::test]
async fn a_failed_write_rolls_back_and_the_store_keeps_working() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(common::raw_config(dir.path())).await.unwrap();
    let err = store
        .write(|tx| {
            storage::repo::issues::insert(
                tx,
                &storage::repo::issues::NewIssue {
                    title: "kept?".into(),
                    ..Default::default()
                },
            )?;
            Err::<(), _>(StorageError::Invalid("changed my mind".into()))
        })
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "changed my mind");
    assert_eq!(store.read(storage::repo::issues::count).await.unwrap(), 0);
    store
        .write(|tx| {
            storage::repo::issues::insert(
                tx,
                &storage::repo::issues::NewIssue {
                    title: "kept".into(),
                    ..Default::default()
                },
            )
        })
        .await
        .unwrap();
    assert_eq!(store.read(storage::repo::issues::count).await.unwrap(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_last_handle_closes_every_connection_before_returning() {
    for round in 0..20 {
        let dir = tempfile::tempdir().unwrap();
        let config = common::raw_config(dir.path());
        let wal = config.path.with_extension("db-wal");
        let store = Store::open(config).await.unwrap();
        let clone = store.clone();
        clone
            .write(|tx| {
                storage::repo::issues::insert(
                    tx,
                    &storage::repo::issues::NewIssue {
                        title: "closing".into(),
                        ..Default::default()
                    },
                )
            })
            .await
            .unwrap();
        store
            .read(|c| Ok(storage::repo::issues::list(c, &Default::default())?.len()))
            .await
            .unwrap();
        assert!(wal.exists(), "round {round}: the WAL is in use while open");
        drop(clone);
        drop(store);
        // The last connection to close checkpoints the WAL and removes it;
        // the writer thread's close must be over when the drop returns.
        assert!(
            !wal.exists(),
            "round {round}: a connection is still open after the drop"
        );
    }
}

/// Queued writes commit in the order they were queued, interleaved with
/// ordinary writes, while the caller goes on; a queued write whose handle
/// is dropped still commits, and a failing one rolls back alone.
#[tokio::test(flavor = "current_thread")]
async fn queued_writes_commit_in_queue_order_while_the_caller_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(common::raw_config(dir.path())).await.unwrap();
    let conv = new_conversation(&store, "queue").await;
    let message = |text: &str| messages::NewMessage {
        role: Role::User,
        content: text.into(),
        token_count: 1,
        tool_calls: None,
        tool_call_id: None,
    };
    let append = |text: &str| {
        let (id, m) = (conv.id.clone(), message(text));
        move |tx: &rusqlite::Transaction<'_>| messages::append(tx, &id, &m)
    };
    let first = store.queue_write(append("first")).unwrap();
    // Dropped at once: the transaction is not cancelled.
    drop(store.queue_write(append("second")).unwrap());
    let failing = store
        .queue_write(|_| -> storage::Result<()> { Err(StorageError::Invalid("no".into())) })
        .unwrap();
    let third = store.queue_write(append("third")).unwrap();
    // The caller is free meanwhile; an ordinary write queues behind them.
    store.write(append("fourth")).await.unwrap();
    assert_eq!(third.wait().await.unwrap().seq, 3);
    assert!(matches!(
        failing.wait().await,
        Err(StorageError::Invalid(_))
    ));
    assert_eq!(first.wait().await.unwrap().seq, 1);

    let id = conv.id.clone();
    let stored = store.read(move |c| messages::list(c, &id)).await.unwrap();
    let texts: Vec<&str> = stored.iter().map(|m| m.content.as_str()).collect();
    assert_eq!(texts, ["first", "second", "third", "fourth"]);
}

/// A job queued with the bare writer connection does its own work before it
/// opens a transaction (the write lock is not held meanwhile), and its
/// result can be taken without waiting once it is there.
#[tokio::test(flavor = "current_thread")]
async fn a_queued_job_works_before_its_transaction_and_can_be_polled() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(common::raw_config(dir.path())).await.unwrap();
    let conv = new_conversation(&store, "polled").await;
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let id = conv.id.clone();
    let mut job = store
        .queue_with_writer(move |conn| {
            let outside = conn.is_autocommit();
            release_rx
                .recv_timeout(std::time::Duration::from_secs(10))
                .map_err(|_| StorageError::Invalid("never released".into()))?;
            let m = storage::write_tx(conn, |tx| {
                messages::append(
                    tx,
                    &id,
                    &messages::NewMessage {
                        role: Role::User,
                        content: "counted first".into(),
                        token_count: 2,
                        tool_calls: None,
                        tool_call_id: None,
                    },
                )
            })?;
            Ok((outside, m.seq))
        })
        .unwrap();
    assert!(job.try_take().is_none(), "taken while still at work");
    release_tx.send(()).unwrap();
    let (outside, seq) = loop {
        if let Some(out) = job.try_take() {
            break out.unwrap();
        }
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    };
    assert!(outside, "a transaction was open during the work");
    assert_eq!(seq, 1);
    assert!(matches!(job.try_take(), Some(Err(StorageError::Closed))));
    let id = conv.id.clone();
    let stored = store.read(move |c| messages::list(c, &id)).await.unwrap();
    assert_eq!(stored.len(), 1);
}

/// A short read runs on the writer thread when nothing is queued there,
/// and on a reader, without waiting, when a write is in progress.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn small_reads_use_an_idle_writer_and_never_wait_behind_writes() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(common::raw_config(dir.path())).await.unwrap();
    let thread_name = || std::thread::current().name().map(str::to_owned);
    let count_issues = |c: &rusqlite::Connection| -> storage::Result<i64> {
        Ok(c.query_row("SELECT count(*) FROM issues", [], |r| r.get(0))?)
    };

    let (on, n) = store
        .read_small(move |c| Ok((thread_name(), count_issues(c)?)))
        .await
        .unwrap();
    assert_eq!(on.as_deref(), Some("tftsr-db-writer"));
    assert_eq!(n, 0);

    // A write that holds the writer until the read below has finished.
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let held = store
        .queue_write(move |tx| {
            storage::repo::issues::insert(
                tx,
                &storage::repo::issues::NewIssue {
                    title: "held".into(),
                    ..Default::default()
                },
            )?;
            release_rx
                .recv_timeout(std::time::Duration::from_secs(10))
                .map_err(|_| StorageError::Invalid("never released".into()))
        })
        .unwrap();
    let (on, n) = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        store.read_small(move |c| Ok((thread_name(), count_issues(c)?))),
    )
    .await
    .expect("the read waited behind the write")
    .unwrap();
    assert_ne!(on.as_deref(), Some("tftsr-db-writer"));
    assert_eq!(n, 0, "the uncommitted write is not seen");
    release_tx.send(()).unwrap();
    held.wait().await.unwrap();
    assert_eq!(store.read_small(move |c| count_issues(c)).await.unwrap(), 1);
}
