//! A real HTTP server on `127.0.0.1:0` that records every request and
//! answers through a handler: the shared base of the mock model
//! ([`crate::MockLlm`]) and of mocks for other services (a chat platform's
//! Web API, for one).
//!
//! The server runs on its own thread with its own tokio runtime, so it
//! works the same under `#[tokio::test]` (either flavour), in plain `#[test]`
//! functions that spawn the `tftsr` binary, and in benchmarks — a test that
//! blocks its own runtime cannot starve it. Dropping the server stops it at
//! once, including responses still sleeping or streaming.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Instant;

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::Response;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// One request as the server received it.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    /// Header names in lower case, in arrival order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The body parsed as JSON, when it is JSON.
    pub json: Option<Value>,
    pub received_at: Instant,
}

impl RecordedRequest {
    /// The first value of a header (name case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.as_str())
    }

    /// Lower-case hex SHA-256 of the exact body bytes received.
    pub fn body_sha256(&self) -> String {
        hex::encode(Sha256::digest(&self.body))
    }

    /// The body as (lossy) text.
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Fails the test that uses a test double; never reached in production
/// code, which does not depend on this crate.
#[allow(clippy::panic, reason = "a broken test double must fail the test")]
pub(crate) fn fail(message: &str) -> ! {
    panic!("{message}")
}

/// Locks a mutex, ignoring poisoning (a panicking test must not hide the
/// record of what was sent).
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A recording HTTP server. See the module docs.
pub struct TestServer {
    addr: SocketAddr,
    requests: Arc<Mutex<Vec<RecordedRequest>>>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for TestServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl TestServer {
    /// Starts a server that records each request and answers with
    /// `handler(request)`. Returns once the port is bound.
    pub fn start<H, F>(handler: H) -> TestServer
    where
        H: Fn(RecordedRequest) -> F + Send + Sync + 'static,
        F: Future<Output = Response> + Send + 'static,
    {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap_or_else(|error| fail(&format!("testkit: cannot bind 127.0.0.1:0: {error}")));
        let addr = listener
            .local_addr()
            .unwrap_or_else(|error| fail(&format!("testkit: no local address: {error}")));
        if let Err(error) = listener.set_nonblocking(true) {
            fail(&format!(
                "testkit: cannot make the listener non-blocking: {error}"
            ));
        }
        let requests = Arc::new(Mutex::new(Vec::new()));
        let recorder = Arc::clone(&requests);
        let handler = Arc::new(handler);
        let route = move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
            let recorder = Arc::clone(&recorder);
            let handler = Arc::clone(&handler);
            async move {
                let request = RecordedRequest {
                    method: method.to_string(),
                    path: uri.path().to_owned(),
                    query: uri.query().map(str::to_owned),
                    headers: headers
                        .iter()
                        .map(|(name, value)| {
                            (
                                name.as_str().to_owned(),
                                String::from_utf8_lossy(value.as_bytes()).into_owned(),
                            )
                        })
                        .collect(),
                    json: serde_json::from_slice(&body).ok(),
                    body: body.to_vec(),
                    received_at: Instant::now(),
                };
                lock(&recorder).push(request.clone());
                handler(request).await
            }
        };
        let router = axum::Router::new().fallback(route);
        let (shutdown, stop) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name(format!("testkit-server-{}", addr.port()))
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime,
                    Err(error) => fail(&format!("testkit: no tokio runtime: {error}")),
                };
                runtime.block_on(async move {
                    let listener = match tokio::net::TcpListener::from_std(listener) {
                        Ok(listener) => listener,
                        Err(error) => fail(&format!("testkit: listener: {error}")),
                    };
                    let serve = axum::serve(listener, router).into_future();
                    tokio::select! {
                        _ = serve => {}
                        _ = stop => {}
                    }
                });
                // Connections still streaming or sleeping die with the runtime.
                runtime.shutdown_background();
            })
            .unwrap_or_else(|error| fail(&format!("testkit: cannot spawn: {error}")));
        TestServer {
            addr,
            requests,
            shutdown: Some(shutdown),
            thread: Some(thread),
        }
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.requests).clone()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
