//! The async handle on the database.
//!
//! rusqlite is blocking and the rest of tftsr runs on tokio, so SQLite work
//! never runs on a runtime thread. Writes go, through a channel, to one
//! dedicated writer thread that owns the writing connection (SQLite allows one
//! writer at a time anyway, and one thread means no lock contention inside the
//! process); each write is its own immediate transaction. Reads run on the
//! blocking pool over a small set of reader connections, which WAL lets
//! proceed while the writer commits. Connections stay open: opening one with a
//! passphrase costs a ~100 ms key derivation.

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};

use rusqlite::{Connection, Transaction};
use tokio::sync::oneshot;

use crate::db::{Db, write_tx};
use crate::error::{Result, StorageError};
use crate::open::{DbConfig, open_connection};

/// Reader connections kept open after use. Reads are short; more than a few
/// at once means a burst, whose extra connections are closed afterwards.
const IDLE_READERS: usize = 4;

type Job = Box<dyn FnOnce(&mut Connection) + Send>;

struct Inner {
    /// `None` once the store is being dropped.
    jobs: Mutex<Option<mpsc::Sender<Job>>>,
    /// Jobs sent to the writer thread and not finished yet.
    queued: Arc<AtomicUsize>,
    readers: Mutex<Vec<Connection>>,
    config: DbConfig,
    writer: Option<std::thread::JoinHandle<()>>,
}

/// The last handle waits for the writer thread to finish its jobs and close
/// its connection (which checkpoints the WAL). Without the wait the process
/// could exit — and run the crypto library's exit handlers — while that
/// thread is still encrypting pages.
impl Drop for Inner {
    fn drop(&mut self) {
        match self.jobs.lock() {
            Ok(mut jobs) => drop(jobs.take()),
            Err(poisoned) => drop(poisoned.into_inner().take()),
        }
        if let Some(writer) = self.writer.take() {
            // A job holding the last handle runs on the writer thread itself,
            // which then ends on its own.
            if writer.thread().id() != std::thread::current().id() && writer.join().is_err() {
                tracing::warn!("the database writer thread panicked");
            }
        }
    }
}

/// Cheap to clone; all clones share one writer thread and reader pool. The
/// writer thread ends (and its connection closes) when the last clone drops.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.inner.config.path)
            .finish()
    }
}

impl Store {
    /// Opens and migrates the database, and starts the writer thread.
    pub async fn open(config: DbConfig) -> Result<Self> {
        let db = tokio::task::spawn_blocking(move || Db::open(&config))
            .await
            .map_err(|_| StorageError::Closed)??;
        Self::from_db(db)
    }

    /// Wraps an already open database (its connection becomes the writer).
    pub fn from_db(db: Db) -> Result<Self> {
        let (conn, config) = db.into_parts();
        let (tx, rx) = mpsc::channel::<Job>();
        let writer = std::thread::Builder::new()
            .name("tftsr-db-writer".into())
            .spawn(move || writer_loop(conn, rx))
            .map_err(|e| StorageError::io(config.path.clone(), e))?;
        Ok(Self {
            inner: Arc::new(Inner {
                jobs: Mutex::new(Some(tx)),
                queued: Arc::new(AtomicUsize::new(0)),
                readers: Mutex::new(Vec::new()),
                config,
                writer: Some(writer),
            }),
        })
    }

    pub fn config(&self) -> &DbConfig {
        &self.inner.config
    }

    /// Runs `f` in one immediate transaction on the writer thread; commits if
    /// it returns `Ok`, rolls back otherwise.
    pub async fn write<R, F>(&self, f: F) -> Result<R>
    where
        F: FnOnce(&Transaction<'_>) -> Result<R> + Send + 'static,
        R: Send + 'static,
    {
        self.with_writer(move |conn| write_tx(conn, f)).await
    }

    /// Runs `f` with the writer connection itself (no transaction opened),
    /// for work that manages its own, such as migrations or checks.
    pub async fn with_writer<R, F>(&self, f: F) -> Result<R>
    where
        F: FnOnce(&mut Connection) -> Result<R> + Send + 'static,
        R: Send + 'static,
    {
        self.queue_with_writer(f)?.wait().await
    }

    /// [`Store::write`] in two steps: the transaction is queued for the
    /// writer now, and its result is waited for later
    /// ([`QueuedWrite::wait`]), so the caller can do other work while it
    /// commits. Queued writes run in the order they were queued, like all
    /// writes. A dropped [`QueuedWrite`] does not cancel the transaction.
    pub fn queue_write<R, F>(&self, f: F) -> Result<QueuedWrite<R>>
    where
        F: FnOnce(&Transaction<'_>) -> Result<R> + Send + 'static,
        R: Send + 'static,
    {
        self.queue_with_writer(move |conn| write_tx(conn, f))
    }

    /// [`Store::with_writer`] in two steps, as [`Store::queue_write`] is
    /// [`Store::write`] in two: `f` gets the writer connection with no
    /// transaction open, so it can do work of its own before opening one
    /// (with [`crate::write_tx`]) and keep the write lock only for the
    /// writing.
    pub fn queue_with_writer<R, F>(&self, f: F) -> Result<QueuedWrite<R>>
    where
        F: FnOnce(&mut Connection) -> Result<R> + Send + 'static,
        R: Send + 'static,
    {
        let (done_tx, done_rx) = oneshot::channel();
        let queued = Arc::clone(&self.inner.queued);
        let job: Job = Box::new(move |conn| {
            let out = std::panic::catch_unwind(AssertUnwindSafe(|| f(conn))).unwrap_or_else(|_| {
                Err(StorageError::Invalid(
                    "internal error: a database job panicked".into(),
                ))
            });
            queued.fetch_sub(1, Ordering::AcqRel);
            let _ = done_tx.send(out);
        });
        let jobs = self.inner.jobs.lock().map_err(|_| StorageError::Closed)?;
        let sender = jobs.as_ref().ok_or(StorageError::Closed)?;
        self.inner.queued.fetch_add(1, Ordering::AcqRel);
        if sender.send(job).is_err() {
            self.inner.queued.fetch_sub(1, Ordering::AcqRel);
            return Err(StorageError::Closed);
        }
        Ok(QueuedWrite { done: done_rx })
    }

    /// Runs `f` like [`Store::read`], for a short read (a few rows found
    /// through an index). When the writer thread has nothing queued it runs
    /// there, without a transaction: the writer's page cache holds the
    /// pages it last wrote, already decrypted, while SQLite drops a reader
    /// connection's whole cache whenever anyone commits, so a read right
    /// after a write decrypts every page again. When writes are queued, it
    /// runs on a reader as usual and never waits behind them.
    pub async fn read_small<R, F>(&self, f: F) -> Result<R>
    where
        F: FnOnce(&Connection) -> Result<R> + Send + 'static,
        R: Send + 'static,
    {
        if self.inner.queued.load(Ordering::Acquire) == 0 {
            self.with_writer(move |conn| f(conn)).await
        } else {
            self.read(f).await
        }
    }

    /// Runs `f` on a reader connection, on the blocking pool.
    pub async fn read<R, F>(&self, f: F) -> Result<R>
    where
        F: FnOnce(&Connection) -> Result<R> + Send + 'static,
        R: Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || {
            let conn = match inner
                .readers
                .lock()
                .map_err(|_| StorageError::Closed)?
                .pop()
            {
                Some(c) => c,
                None => open_connection(&inner.config)?,
            };
            let out = f(&conn);
            if let Ok(mut pool) = inner.readers.lock()
                && pool.len() < IDLE_READERS
            {
                pool.push(conn);
            }
            out
        })
        .await
        .map_err(|_| StorageError::Invalid("internal error: a database read panicked".into()))?
    }
}

/// A job queued for the writer thread ([`Store::queue_write`]).
#[derive(Debug)]
pub struct QueuedWrite<R> {
    done: oneshot::Receiver<Result<R>>,
}

impl<R> QueuedWrite<R> {
    /// Waits for the transaction; its result, as [`Store::write`] returns it.
    pub async fn wait(self) -> Result<R> {
        self.done.await.map_err(|_| StorageError::Closed)?
    }

    /// The result if the job has finished, without waiting: `None` while
    /// it is queued or running. The result can be taken once; later calls
    /// get [`StorageError::Closed`].
    pub fn try_take(&mut self) -> Option<Result<R>> {
        match self.done.try_recv() {
            Ok(out) => Some(out),
            Err(oneshot::error::TryRecvError::Empty) => None,
            Err(oneshot::error::TryRecvError::Closed) => Some(Err(StorageError::Closed)),
        }
    }
}

fn writer_loop(mut conn: Connection, jobs: mpsc::Receiver<Job>) {
    while let Some(job) = next_job(&jobs) {
        job(&mut conn);
    }
    // Closing the last connection checkpoints the WAL into the main file.
    if let Err((_, e)) = conn.close() {
        tracing::warn!(error = %e, "closing the database");
    }
}

/// How long the writer thread keeps looking for its next job before it
/// sleeps. A turn's jobs come in bursts (a tool's read, its redaction, its
/// result, then the answer shortly after), and waking a sleeping thread
/// costs tens of microseconds on a virtual machine, per job. While it
/// looks, the thread yields its core to any other thread that can run.
const WRITER_SPIN: std::time::Duration = std::time::Duration::from_micros(150);

/// The next job, or `None` once every sender is gone.
fn next_job(jobs: &mpsc::Receiver<Job>) -> Option<Job> {
    let started = std::time::Instant::now();
    loop {
        match jobs.try_recv() {
            Ok(job) => return Some(job),
            Err(mpsc::TryRecvError::Disconnected) => return None,
            Err(mpsc::TryRecvError::Empty) if started.elapsed() < WRITER_SPIN => {
                std::thread::yield_now();
            }
            Err(mpsc::TryRecvError::Empty) => return jobs.recv().ok(),
        }
    }
}
