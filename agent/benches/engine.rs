//! Engine overhead per model round (issue 4): a mock model on 127.0.0.1
//! that answers at once (streamed SSE, like a real server), one read-only
//! tool call (`get_timeline`) per round, and the real encrypted database
//! (SQLCipher, raw key, in a temp dir).
//!
//! ```text
//! cargo bench -p agent --bench engine -- [--rounds N] [--per-turn R] [--turns-per-conversation T] [--rounds-only]
//! ```
//!
//! A plain timing binary rather than criterion: the goal is a p50/p99 *per
//! round*, and a round only exists inside a turn, so the numbers come from
//! timestamps taken inside real turns. Each turn is `R` tool-call rounds and
//! one final text answer. A round is the time from one `ToolStarted` event
//! to the next, which covers exactly one of everything a round does: the
//! tool runs and its result is stored, the history is prepared and sent,
//! the answer streams back, the audit row, redaction and the assistant
//! message are stored. The mock's own `received_at` of each request splits
//! that into the part before the request reaches the server and the part
//! after.
//!
//! The mock's handling time is included in the round (the goal says so). Its
//! CPU time per request is measured (the server thread's own CPU time from
//! `/proc`) and subtracted to give an estimate of our own time. Then the
//! pieces a round is made of are timed one at a time against the same
//! database and mock, so that the breakdown can be compared with the round.
//!
//! The mock is scripted (it never repeats a reply): one mock, script and
//! client per batch of turns, which also keeps the requests it records
//! bounded. Each call of a turn asks for the same timeline with a different
//! amount of leading white space in `issue_id` (the tool trims it): the
//! engine refuses a call identical to an earlier one in the turn, and a
//! refused call would skip the tool.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use agent::engine::{Engine, EngineConfig, EngineEvent, TurnOptions};
use agent::llm::{ChatRequest, LlmClient, LlmConfig, StreamEvent, ToolSpec, WireMessage};
use serde_json::{Value, json};
use storage::repo::messages::{self, NewMessage};
use storage::{ConversationId, DbConfig, DbKey, IssueId, Role, Store};
use testkit::{MockLlm, Reply, SseReply, next_call_id};
use tokio_util::sync::CancellationToken;

/// The binary's allocator, so that the bench measures what ships.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// o200k tokenizer, the product's default model.
const MODEL: &str = "gpt-4o-mini";

/// Turns per mock (and per client and engine): bounds what the mock records.
const TURNS_PER_BATCH: usize = 20;

/// Iterations of each piece in the breakdown.
const PIECE_RUNS: usize = 2_000;

struct Options {
    rounds: usize,
    per_turn: usize,
    turns_per_conversation: usize,
    /// Skip the timing of the pieces (for profiling the rounds alone).
    rounds_only: bool,
}

fn options() -> Options {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |name: &str, default: usize| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    Options {
        rounds: value("--rounds", 4_000),
        per_turn: value("--per-turn", 10),
        turns_per_conversation: value("--turns-per-conversation", 1),
        rounds_only: args.iter().any(|a| a == "--rounds-only"),
    }
}

/// CPU time (ns) of this process's threads, summed by group of thread name.
fn thread_cpu() -> BTreeMap<&'static str, u64> {
    let mut out = BTreeMap::new();
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return out;
    };
    for task in tasks.flatten() {
        let path = task.path();
        let comm = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
        let ns: u64 = std::fs::read_to_string(path.join("schedstat"))
            .ok()
            .and_then(|s| s.split_whitespace().next()?.parse().ok())
            .unwrap_or(0);
        let group = match comm.trim() {
            c if c.starts_with("testkit-server") => "mock server",
            "tftsr-db-writer" => "db writer thread",
            c if c.starts_with("tokio") => "engine runtime (workers, blocking reads)",
            _ => "other (main)",
        };
        *out.entry(group).or_default() += ns;
    }
    out
}

fn cpu_delta(
    before: &BTreeMap<&'static str, u64>,
    after: &BTreeMap<&'static str, u64>,
) -> BTreeMap<&'static str, u64> {
    after
        .iter()
        .map(|(k, v)| (*k, v.saturating_sub(*before.get(k).unwrap_or(&0))))
        .collect()
}

/// Nearest-rank percentiles of durations, in µs.
struct Stats {
    n: usize,
    mean: f64,
    p50: f64,
    p90: f64,
    p99: f64,
    max: f64,
}

fn stats(samples: &[Duration]) -> Stats {
    let mut us: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1e6).collect();
    us.sort_by(f64::total_cmp);
    let n = us.len().max(1);
    let at = |p: f64| {
        us.get(((p * n as f64).ceil() as usize).saturating_sub(1))
            .copied()
    };
    Stats {
        n: us.len(),
        mean: us.iter().sum::<f64>() / n as f64,
        p50: at(0.50).unwrap_or(0.0),
        p90: at(0.90).unwrap_or(0.0),
        p99: at(0.99).unwrap_or(0.0),
        max: us.last().copied().unwrap_or(0.0),
    }
}

fn line(label: &str, s: &Stats) {
    println!(
        "{label:<44} p50 {:>7.1} µs  p90 {:>7.1}  p99 {:>7.1}  mean {:>7.1}  max {:>8.1}  (n={})",
        s.p50, s.p90, s.p99, s.mean, s.max, s.n
    );
}

async fn open_store(dir: &std::path::Path) -> Store {
    Store::open(DbConfig {
        path: dir.join("tftsr.db"),
        key: DbKey::Raw([7; 32]),
        key_source: "bench".into(),
    })
    .await
    .unwrap()
}

fn client(base_url: String) -> LlmClient {
    LlmClient::new(LlmConfig::new(base_url, MODEL).with_api_key("bench-key")).unwrap()
}

/// An incident like a real one early in triage: a description and a dozen
/// timeline events, some with values the redaction numbers.
async fn seed(store: &Store) -> IssueId {
    let engine = Engine::new(store.clone(), None, EngineConfig::default());
    let created = engine
        .run_tool(
            None,
            "create_issue",
            json!({
                "title": "Checkout API returns 502 for 8% of requests",
                "severity": "high",
                "category": "application",
                "description": "Since 14:02 UTC the checkout service behind lb-eu-1 (10.0.4.17) answers 502; \
                    on-call paged by alice@example.com. Payments are retried by clients."
            }),
        )
        .await;
    assert!(created.ok, "{}", created.content);
    let issue = IssueId::from_string(
        serde_json::from_str::<Value>(&created.content).unwrap()["id"]
            .as_str()
            .unwrap(),
    );
    for n in 0..12 {
        let added = engine
            .run_tool(
                Some(issue.clone()),
                "add_timeline_event",
                json!({
                    "event_type": "log_uploaded",
                    "description": format!("nginx error.log from 10.0.4.{} attached (part {n})", 20 + n),
                    "metadata": {"file_name": format!("error-{n}.log"), "file_size": 48_000 + n},
                }),
            )
            .await;
        assert!(added.ok, "{}", added.content);
    }
    issue
}

/// One round's reply: a streamed call of `get_timeline`, then usage.
fn tool_round(issue: &IssueId, k: usize) -> Reply {
    let args = json!({"issue_id": format!("{}{issue}", " ".repeat(k))}).to_string();
    Reply::stream(
        SseReply::new()
            .role()
            .tool_call(0, &next_call_id(), "get_timeline", &args, 2)
            .finish("tool_calls")
            .usage(1_800, 24),
    )
}

fn final_answer() -> Reply {
    Reply::stream(
        SseReply::new()
            .role()
            .texts(&[
                "The timeline shows the 502s began ",
                "right after the deploy.",
            ])
            .finish("stop")
            .usage(2_400, 12),
    )
}

#[derive(Default)]
struct Samples {
    /// `ToolStarted` to the next `ToolStarted`: one whole round.
    rounds: Vec<Duration>,
    /// `ToolStarted` to the next request's arrival at the mock: the tool,
    /// its stored result, the history, encoding and sending.
    to_request: Vec<Duration>,
    /// The request's arrival to the next `ToolStarted`: the mock's answer,
    /// streaming it back, audit, redaction, the stored assistant message.
    from_request: Vec<Duration>,
    /// Turn start to the first request's arrival: once-per-turn work.
    turn_setup: Vec<Duration>,
    turns: Vec<Duration>,
    requests: usize,
}

async fn measure(
    store: &Store,
    issue: &IssueId,
    opts: &Options,
    turns: usize,
    out: &mut Samples,
) -> BTreeMap<&'static str, u64> {
    let mut cpu = BTreeMap::new();
    let mut conv: Option<ConversationId> = None;
    let mut done = 0;
    while done < turns {
        let batch = TURNS_PER_BATCH.min(turns - done);
        let mut script = Vec::with_capacity(batch * (opts.per_turn + 1));
        for _ in 0..batch {
            script.extend((1..=opts.per_turn).map(|k| tool_round(issue, k)));
            script.push(final_answer());
        }
        let mock = MockLlm::start(script);
        let engine = Engine::new(
            store.clone(),
            Some(client(mock.base_url())),
            EngineConfig::default(),
        );
        // Per turn: its start and the `ToolStarted` times. The mock's record
        // is read once per batch, after the clock stops.
        let mut timed: Vec<(Instant, Vec<Instant>)> = Vec::with_capacity(batch);
        let before = thread_cpu();
        for t in 0..batch {
            if (done + t).is_multiple_of(opts.turns_per_conversation) || conv.is_none() {
                conv = Some(engine.new_conversation(issue, None).await.unwrap());
            }
            let conv = conv.as_ref().unwrap();
            let mut tool_started = Vec::with_capacity(opts.per_turn);
            let mut sink = |e: EngineEvent| {
                if let EngineEvent::ToolStarted { .. } = e {
                    tool_started.push(Instant::now());
                }
            };
            let start = Instant::now();
            let outcome = engine
                .turn(
                    conv,
                    "What does the timeline say about when the 502s started?",
                    TurnOptions::default(),
                    &mut sink,
                    &CancellationToken::new(),
                )
                .await
                .unwrap();
            out.turns.push(start.elapsed());
            assert_eq!(
                (
                    outcome.usage.rounds as usize,
                    outcome.usage.tool_calls as usize
                ),
                (opts.per_turn + 1, opts.per_turn),
                "every call ran"
            );
            timed.push((start, tool_started));
        }
        for (k, v) in cpu_delta(&before, &thread_cpu()) {
            *cpu.entry(k).or_default() += v;
        }
        let arrivals: Vec<Instant> = mock.requests().iter().map(|r| r.received_at).collect();
        assert_eq!(arrivals.len(), batch * (opts.per_turn + 1));
        out.requests += arrivals.len();
        for ((start, tool_started), arrived) in timed.iter().zip(arrivals.chunks(opts.per_turn + 1))
        {
            out.turn_setup.push(arrived[0] - *start);
            for k in 0..tool_started.len().saturating_sub(1) {
                out.rounds.push(tool_started[k + 1] - tool_started[k]);
                out.to_request.push(arrived[k + 1] - tool_started[k]);
                out.from_request.push(tool_started[k + 1] - arrived[k + 1]);
            }
        }
        mock.assert_finished();
        done += batch;
    }
    cpu
}

async fn time_n<F, Fut>(n: usize, mut f: F) -> Stats
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut samples = Vec::with_capacity(n);
    for i in 0..n {
        let t = Instant::now();
        f(i).await;
        samples.push(t.elapsed());
    }
    stats(&samples)
}

/// The pieces a round is made of, one at a time.
async fn pieces(store: &Store, issue: &IssueId, per_turn: usize) {
    println!("\npieces of a round, each timed alone ({PIECE_RUNS} runs):");
    let engine = Engine::new(store.clone(), None, EngineConfig::default());
    // A finished conversation of one turn, as the middle of a turn sees it.
    let conv = {
        let id = issue.clone();
        store
            .read(move |c| storage::repo::conversations::latest_for_issue(c, &id))
            .await
            .unwrap()
            .unwrap()
            .id
    };
    let stored = {
        let id = conv.clone();
        store.read(move |c| messages::list(c, &id)).await.unwrap()
    };
    let history: Vec<WireMessage> = stored.iter().map(agent::engine::to_wire).collect();
    let mid_turn = history.len().min(2 + per_turn);
    let tool_result = history
        .iter()
        .find(|m| matches!(m, WireMessage::Tool { .. }))
        .cloned()
        .unwrap();
    let assistant = history
        .iter()
        .find(|m| matches!(m, WireMessage::Assistant { tool_calls, .. } if !tool_calls.is_empty()))
        .cloned()
        .unwrap();
    let WireMessage::Assistant { tool_calls, .. } = &assistant else {
        unreachable!()
    };
    let args = tool_calls[0].arguments.clone();

    line(
        "empty write transaction (writer-thread hop)",
        &time_n(PIECE_RUNS, |_| async {
            store.write(|_| Ok(())).await.unwrap();
        })
        .await,
    );
    line(
        "empty read (blocking-pool hop)",
        &time_n(PIECE_RUNS, |_| async {
            store.read(|_| Ok(())).await.unwrap();
        })
        .await,
    );
    let scratch = engine.new_conversation(issue, None).await.unwrap();
    line(
        "store a tool result (1 write tx)",
        &time_n(PIECE_RUNS, |i| {
            let id = scratch.clone();
            let content = tool_result.content().to_string();
            async move {
                store
                    .write(move |tx| {
                        messages::append(
                            tx,
                            &id,
                            &NewMessage {
                                role: Role::Tool,
                                content,
                                token_count: 900,
                                tool_calls: None,
                                tool_call_id: Some(format!("call_{i}")),
                            },
                        )
                    })
                    .await
                    .unwrap();
            }
        })
        .await,
    );
    line(
        "audit row ai_send (1 write tx)",
        &time_n(PIECE_RUNS, |_| {
            let id = issue.clone();
            async move {
                store
                    .write(move |tx| {
                        storage::audit::append_for_issue(
                            tx,
                            "bench",
                            "ai_send",
                            &id,
                            json!({"purpose": "turn", "model": MODEL}),
                        )
                    })
                    .await
                    .unwrap();
            }
        })
        .await,
    );
    line(
        "redact a short text (1 write tx)",
        &time_n(PIECE_RUNS, |_| {
            let args = args.clone();
            async move {
                tools::redaction::redact_text(store, Some(issue), args)
                    .await
                    .unwrap();
            }
        })
        .await,
    );
    line(
        "get_timeline incl. output redaction",
        &time_n(PIECE_RUNS, |_| async {
            let r = engine
                .run_tool(Some(issue.clone()), "get_timeline", json!({}))
                .await;
            assert!(r.ok);
        })
        .await,
    );
    line(
        &format!("load the history ({} messages)", stored.len()),
        &time_n(PIECE_RUNS, |_| {
            let id = conv.clone();
            async move {
                store.read(move |c| messages::list(c, &id)).await.unwrap();
            }
        })
        .await,
    );
    line(
        &format!(
            "count tokens of a tool result ({} B)",
            tool_result.content().len()
        ),
        &time_n(PIECE_RUNS, |_| async {
            std::hint::black_box(agent::tokens::count_message(MODEL, &tool_result));
        })
        .await,
    );
    line(
        "count tokens of the assistant call",
        &time_n(PIECE_RUNS, |_| async {
            std::hint::black_box(agent::tokens::count_message(MODEL, &assistant));
        })
        .await,
    );

    // The model call alone: the request of a round in the middle of a turn.
    let specs: Vec<ToolSpec> = engine
        .registry()
        .specs()
        .into_iter()
        .map(|s| ToolSpec {
            name: s.name,
            description: s.description,
            parameters: s.parameters,
        })
        .collect();
    // Stored: user, system, then the rounds; sent: system first.
    let mut messages = vec![history[1].clone(), history[0].clone()];
    messages.extend(history[2..mid_turn].iter().cloned());
    let request = ChatRequest {
        messages,
        tools: specs,
        ..ChatRequest::default()
    };
    let script = (0..PIECE_RUNS + 1).map(|k| tool_round(issue, k)).collect();
    let mock = MockLlm::start(script);
    let llm = client(mock.base_url());
    let cancel = CancellationToken::new();
    let mut quiet = |_: StreamEvent| {};
    llm.chat(&request, &mut quiet, &cancel).await.unwrap();
    let before = thread_cpu();
    let http = time_n(PIECE_RUNS, |_| {
        let (llm, request, cancel) = (&llm, &request, &cancel);
        async move {
            let mut quiet = |_: StreamEvent| {};
            llm.chat(request, &mut quiet, cancel).await.unwrap();
        }
    })
    .await;
    let mock_ns = cpu_delta(&before, &thread_cpu())
        .get("mock server")
        .copied()
        .unwrap_or(0);
    let body = mock.requests().last().map_or(0, |r| r.body.len());
    line(
        &format!("model call, streamed ({} kB request)", body / 1000),
        &http,
    );
    println!(
        "{:<44} mean {:>7.1} µs CPU of the mock server per request",
        "",
        mock_ns as f64 / 1e3 / PIECE_RUNS as f64
    );
    mock.assert_finished();
}

fn main() {
    let opts = options();
    // The REPL's runtime: current-thread (see `src/repl/mod.rs`).
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let store = open_store(dir.path()).await;
        let issue = seed(&store).await;
        let turns = opts.rounds.div_ceil(opts.per_turn.max(1)).max(1);
        println!(
            "engine overhead: {turns} turns of {} tool rounds + 1 answer, {} turn(s) per conversation, model {MODEL}",
            opts.per_turn, opts.turns_per_conversation
        );

        // Warm-up: tokenizer tables, connections, the page cache.
        let mut warm = Samples::default();
        measure(&store, &issue, &opts, 4, &mut warm).await;

        let mut s = Samples::default();
        let started = Instant::now();
        let cpu = measure(&store, &issue, &opts, turns, &mut s).await;
        let wall = started.elapsed();

        let rounds = stats(&s.rounds);
        let round_total: Duration = s.rounds.iter().sum();
        println!(
            "\n{} rounds measured: {:.0} rounds/s (1 / mean round); whole run {:.0} model requests/s incl. turn setup and answers",
            rounds.n,
            1e6 / rounds.mean,
            s.requests as f64 / wall.as_secs_f64()
        );
        line("round (ToolStarted -> next ToolStarted)", &rounds);
        line("  tool, store result, history, send", &stats(&s.to_request));
        line(
            "  mock answer, stream, audit, redact, store",
            &stats(&s.from_request),
        );
        line("turn setup (start -> first request)", &stats(&s.turn_setup));
        line("whole turn", &stats(&s.turns));
        let mock_per_request = cpu.get("mock server").copied().unwrap_or(0) as f64
            / 1e3
            / s.requests.max(1) as f64;
        println!(
            "\nour own time (round minus the mock's mean CPU of {mock_per_request:.1} µs per request): p50 {:.1} µs, p99 {:.1} µs",
            rounds.p50 - mock_per_request,
            rounds.p99 - mock_per_request
        );
        println!(
            "\nCPU per model request by thread (all work of the run / {} requests; wall per request {:.1} µs, rounds are {:.0}% of it):",
            s.requests,
            wall.as_secs_f64() * 1e6 / s.requests as f64,
            100.0 * round_total.as_secs_f64() / wall.as_secs_f64()
        );
        for (group, ns) in &cpu {
            println!(
                "  {group:<42} {:>7.1} µs",
                *ns as f64 / 1e3 / s.requests as f64
            );
        }
        if !opts.rounds_only {
            pieces(&store, &issue, opts.per_turn).await;
        }
    });
}
