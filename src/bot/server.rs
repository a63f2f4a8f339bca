//! The HTTP server: the platform's routes plus `GET /healthz` and
//! `GET /metrics`, a body limit, and the shutdown signal.

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;

use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

use super::metrics::Metrics;

/// Largest request body read. Slack's event payloads are a few kilobytes
/// (files are links, not content); anything near this is not Slack.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The whole router: `platform` routes plus health and metrics.
pub fn router(platform: Router, metrics: Arc<Metrics>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(render_metrics))
        .with_state(metrics)
        .merge(platform)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
}

async fn healthz() -> impl IntoResponse {
    (StatusCode::OK, "ok\n")
}

async fn render_metrics(State(metrics): State<Arc<Metrics>>) -> impl IntoResponse {
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        metrics.render(),
    )
}

/// Serves `app` on a thread of its own with its own runtime, so that
/// acknowledging an event never waits behind turn work (token counting,
/// prompt building) on the bot's runtime. Stops when `stop` is cancelled,
/// after in-flight requests are answered; `done` then gets the outcome.
pub fn spawn_http(
    listener: std::net::TcpListener,
    app: Router,
    stop: CancellationToken,
) -> std::io::Result<oneshot::Receiver<std::io::Result<()>>> {
    let (done_tx, done) = oneshot::channel();
    std::thread::Builder::new()
        .name("tftsr-http".into())
        .spawn(move || {
            let outcome = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .and_then(|runtime| {
                    runtime.block_on(async move {
                        let listener = tokio::net::TcpListener::from_std(listener)?;
                        axum::serve(listener, app)
                            .with_graceful_shutdown(stop.cancelled_owned())
                            .await
                    })
                });
            let _ = done_tx.send(outcome);
        })?;
    Ok(done)
}

/// Resolves on SIGTERM or Ctrl-C (SIGINT).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::warn!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
