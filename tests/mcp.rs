//! `tftsr mcp` driven by a real MCP client over the binary's stdin/stdout.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;
use std::path::Path;
use std::process::Stdio;

use rmcp::model::{
    CallToolRequestParams, CallToolResult, ClientCapabilities, ClientConfig, ErrorCode,
    Implementation, ProtocolVersion, ReadResourceRequestParams, ResourceContents,
};
use rmcp::service::RunningService;
use rmcp::transport::{ConfigureCommandExt, TokioChildProcess};
use rmcp::{ClientLifecycleMode, ClientServiceExt, RoleClient, ServiceError, ServiceExt};
use serde_json::{Value, json};
use storage::audit::AuditEntry;

type Client = RunningService<RoleClient, ClientConfig>;

fn command(data_dir: &Path) -> tokio::process::Command {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_tftsr")).configure(|c| {
        c.arg("mcp")
            .env("TFTSR_DATA_DIR", data_dir)
            .env_remove("TFTSR_DB_KEY")
            .env_remove("TFTSR_LLM_BASE_URL")
            .env_remove("TFTSR_LLM_API_KEY")
            .env_remove("OPENAI_API_KEY")
            .env_remove("RUST_LOG");
    })
}

fn client_config(name: &str) -> ClientConfig {
    ClientConfig::new(
        ClientCapabilities::default(),
        Implementation::new(name, "1.0.0"),
    )
}

/// Launches `tftsr mcp` and connects with the `initialize` handshake.
async fn connect(data_dir: &Path, client_name: &str) -> Client {
    let transport = TokioChildProcess::new(command(data_dir)).unwrap();
    client_config(client_name).serve(transport).await.unwrap()
}

async fn call(client: &Client, tool: &str, args: Value) -> CallToolResult {
    let Value::Object(args) = args else {
        panic!("arguments must be an object")
    };
    client
        .call_tool(CallToolRequestParams::new(tool.to_string()).with_arguments(args))
        .await
        .unwrap()
}

fn text(result: &CallToolResult) -> &str {
    assert_eq!(result.content.len(), 1, "{result:?}");
    &result.content[0].as_text().expect("text content").text
}

/// A successful call's JSON.
async fn call_ok(client: &Client, tool: &str, args: Value) -> Value {
    let result = call(client, tool, args).await;
    assert_eq!(result.is_error, Some(false), "{tool}: {}", text(&result));
    serde_json::from_str(text(&result)).unwrap()
}

async fn read(client: &Client, uri: &str) -> (Option<String>, String) {
    let result = client
        .read_resource(ReadResourceRequestParams::new(uri))
        .await
        .unwrap();
    assert_eq!(result.contents.len(), 1);
    match result.contents.into_iter().next().unwrap() {
        ResourceContents::TextResourceContents {
            uri: got,
            mime_type,
            text,
            ..
        } => {
            assert_eq!(got, uri);
            (mime_type, text)
        }
        other => panic!("expected text, got {other:?}"),
    }
}

fn mcp_error(e: ServiceError) -> rmcp::model::ErrorData {
    match e {
        ServiceError::McpError(data) => data,
        other => panic!("expected a JSON-RPC error, got {other:?}"),
    }
}

fn open_db(data_dir: &Path) -> storage::Db {
    let config = storage::DbConfig::resolve(data_dir, None).unwrap();
    storage::Db::open(&config).unwrap()
}

fn audit_rows(data_dir: &Path, issue_id: &str) -> Vec<AuditEntry> {
    let db = open_db(data_dir);
    storage::audit::list_for_entity(db.conn(), "issue", issue_id).unwrap()
}

fn event_types(timeline: &Value) -> Vec<&str> {
    timeline
        .as_array()
        .expect("a timeline is an array")
        .iter()
        .map(|e| e["event_type"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn tools_list_is_the_registry_with_its_schemas() {
    let dir = tempfile::tempdir().unwrap();
    let client = connect(dir.path(), "schema-check").await;

    let info = client.peer_info().unwrap();
    assert_eq!(info.server_info.as_ref().unwrap().name, "tftsr");
    assert!(info.capabilities.tools.is_some());
    assert!(info.capabilities.resources.is_some());

    let offered: Vec<Value> = client
        .list_all_tools()
        .await
        .unwrap()
        .into_iter()
        .map(|t| {
            json!({
                "name": t.name,
                "description": t.description,
                "parameters": Value::Object(t.input_schema.as_ref().clone()),
                "read_only": t.annotations.and_then(|a| a.read_only_hint),
            })
        })
        .collect();
    let registry = tools::incident_tools();
    let expected: Vec<Value> = registry
        .specs()
        .into_iter()
        .map(|s| {
            let read_only = registry.risk(&s.name) == Some(tools::Risk::ReadOnly);
            json!({
                "name": s.name,
                "description": s.description,
                "parameters": s.parameters,
                "read_only": read_only,
            })
        })
        .collect();
    assert_eq!(offered, expected);

    client.cancel().await.unwrap();
}

#[tokio::test]
async fn a_five_whys_session_reaches_the_timeline_and_the_audit_log_names_the_client() {
    let dir = tempfile::tempdir().unwrap();
    let client = connect(dir.path(), "claude-desktop").await;

    let issue = call_ok(
        &client,
        "create_issue",
        json!({"title": "Checkout API returns 502s", "severity": "high", "category": "application"}),
    )
    .await;
    let id = issue["id"].as_str().unwrap().to_string();
    for (level, question, answer) in [
        (
            1,
            "Why did checkout return 502s?",
            "The upstream pool was exhausted",
        ),
        (
            2,
            "Why was the pool exhausted?",
            "A deploy halved the pool size",
        ),
    ] {
        let why = call_ok(
            &client,
            "record_why",
            json!({"issue_id": id, "level": level, "question": question, "answer": answer,
                   "evidence": "nginx error log lines 10-40"}),
        )
        .await;
        assert_eq!(why["level"], level);
        assert_eq!(why["revised"], false);
    }

    let timeline = call_ok(&client, "get_timeline", json!({"issue_id": id})).await;
    assert_eq!(
        event_types(&timeline),
        ["triage_started", "why_level_advanced", "why_level_advanced"]
    );

    // A bad call is a tool result the caller can read, not a protocol error.
    let bad = call(
        &client,
        "record_why",
        json!({"issue_id": id, "level": 7, "question": "Why?", "answer": "Because"}),
    )
    .await;
    assert_eq!(bad.is_error, Some(true));
    assert_eq!(
        text(&bad),
        "ERROR: invalid arguments for `record_why`: `level` must be 1–5, got 7"
    );
    let bad = call(
        &client,
        "record_why",
        json!({"issue_id": id, "level": "two"}),
    )
    .await;
    assert_eq!(bad.is_error, Some(true));
    assert!(
        text(&bad).starts_with("ERROR: invalid arguments for `record_why`: `level`"),
        "{}",
        text(&bad)
    );
    let missing = call(
        &client,
        "get_timeline",
        json!({"issue_id": "no-such-incident"}),
    )
    .await;
    assert_eq!(missing.is_error, Some(true));
    assert_eq!(text(&missing), "ERROR: issue `no-such-incident` not found");

    // The timeline as a resource: the same events, as JSON.
    let uri = format!("incident://{id}/timeline");
    let (mime, body) = read(&client, &uri).await;
    assert_eq!(mime.as_deref(), Some("application/json"));
    let resource: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(resource, timeline);

    // Listed among recent incidents; documents only once they exist.
    let listed: Vec<String> = client
        .list_all_resources()
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.uri)
        .collect();
    assert_eq!(listed, std::slice::from_ref(&uri));
    let templates: Vec<String> = client
        .list_all_resource_templates()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.uri_template)
        .collect();
    assert!(templates.contains(&"incident://{id}/timeline".to_string()));

    client.cancel().await.unwrap();

    // Every change was recorded as done by this client.
    let rows = audit_rows(dir.path(), &id);
    let actions: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| (r.action.as_str(), r.user_id.as_str()))
        .collect();
    assert_eq!(
        actions,
        [
            ("issue_created", "mcp:claude-desktop"),
            ("triage_started", "mcp:claude-desktop"),
            ("why_level_advanced", "mcp:claude-desktop"),
            ("why_level_advanced", "mcp:claude-desktop"),
        ]
    );
    let db = open_db(dir.path());
    let stored =
        storage::repo::issues::get(db.conn(), &storage::IssueId::from_string(&id)).unwrap();
    assert_eq!(stored.source.as_deref(), Some("mcp:claude-desktop"));
    let report = storage::verify::verify(db.conn()).unwrap();
    assert!(report.is_ok(), "{report:?}");
}

#[tokio::test]
async fn unknown_tools_and_resources_are_protocol_errors() {
    let dir = tempfile::tempdir().unwrap();
    let client = connect(dir.path(), "errors").await;

    let e = mcp_error(
        client
            .call_tool(CallToolRequestParams::new("drop_database"))
            .await
            .unwrap_err(),
    );
    assert_eq!(e.code, ErrorCode::INVALID_PARAMS);
    assert!(
        e.message
            .starts_with("unknown tool `drop_database`; the available tools are: create_issue, "),
        "{}",
        e.message
    );

    let e = mcp_error(
        client
            .read_resource(ReadResourceRequestParams::new("file:///etc/passwd"))
            .await
            .unwrap_err(),
    );
    assert_eq!(e.code, ErrorCode::INVALID_PARAMS);
    assert!(
        e.message.contains("not an incident resource"),
        "{}",
        e.message
    );

    let e = mcp_error(
        client
            .read_resource(ReadResourceRequestParams::new(
                "incident://0190f1a2-7b3c-7def-8abc-0123456789ab/timeline",
            ))
            .await
            .unwrap_err(),
    );
    assert_eq!(e.code, ErrorCode::RESOURCE_NOT_FOUND);

    let issue = call_ok(
        &client,
        "create_issue",
        json!({"title": "Disk full on db-1"}),
    )
    .await;
    let id = issue["id"].as_str().unwrap();
    let e = mcp_error(
        client
            .read_resource(ReadResourceRequestParams::new(format!(
                "incident://{id}/postmortem"
            )))
            .await
            .unwrap_err(),
    );
    assert_eq!(e.code, ErrorCode::RESOURCE_NOT_FOUND);
    assert!(e.message.contains("has no Postmortem yet"), "{}", e.message);

    // The session survives its errors.
    assert_eq!(
        client.list_all_tools().await.unwrap().len(),
        tools::incident_tools().names().len()
    );
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn resources_are_redacted_with_the_incidents_numbering() {
    let dir = tempfile::tempdir().unwrap();
    let email = "jane.doe@example.com";
    let (id, rca_id) = {
        let mut db = open_db(dir.path());
        db.write(|tx| {
            let issue = storage::repo::issues::insert(
                tx,
                &storage::repo::issues::NewIssue {
                    title: format!("Login fails for {email}"),
                    ..Default::default()
                },
            )?;
            let rca = storage::repo::documents::insert(
                tx,
                &issue.id,
                storage::DocType::Rca,
                "RCA",
                &format!("# RCA\n\nReported by {email}; the session store was full.\n"),
            )?;
            Ok((issue.id.as_str().to_string(), rca.id))
        })
        .unwrap()
    };
    assert!(!rca_id.as_str().is_empty());

    let client = connect(dir.path(), "redaction-check").await;
    let why = call_ok(
        &client,
        "record_why",
        json!({"issue_id": id, "level": 1, "question": format!("Why could {email} not log in?"),
               "answer": "Sessions were refused"}),
    )
    .await;
    let question = why["question"].as_str().unwrap();
    assert!(!question.contains(email), "{question}");
    let token = question
        .split_whitespace()
        .find(|w| w.starts_with("[EMAIL_"))
        .unwrap()
        .to_string();

    let (mime, rca) = read(&client, &format!("incident://{id}/rca")).await;
    assert_eq!(mime.as_deref(), Some("text/markdown"));
    assert_eq!(
        rca,
        format!("# RCA\n\nReported by {token}; the session store was full.\n")
    );

    let (_, timeline) = read(&client, &format!("incident://{id}/timeline")).await;
    assert!(!timeline.contains(email));
    assert!(timeline.contains(&format!("Why could {token} not log in?")));

    let listed = client.list_all_resources().await.unwrap();
    let uris: Vec<&str> = listed.iter().map(|r| r.uri.as_str()).collect();
    assert_eq!(
        uris,
        [
            format!("incident://{id}/timeline"),
            format!("incident://{id}/rca")
        ]
    );
    for r in &listed {
        let shown = serde_json::to_string(r).unwrap();
        assert!(!shown.contains(email), "{shown}");
        assert!(r.title.as_deref().unwrap().contains(&token), "{shown}");
    }
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn clients_of_the_discover_lifecycle_are_named_too() {
    let dir = tempfile::tempdir().unwrap();
    let transport = TokioChildProcess::new(command(dir.path())).unwrap();
    let client = client_config("ide-agent")
        .serve_with_lifecycle(
            transport,
            ClientLifecycleMode::Discover {
                preferred_versions: vec![ProtocolVersion::V_2026_07_28],
            },
        )
        .await
        .unwrap();
    let issue = call_ok(&client, "create_issue", json!({"title": "VPN drops"})).await;
    let id = issue["id"].as_str().unwrap().to_string();
    client.cancel().await.unwrap();

    let rows = audit_rows(dir.path(), &id);
    assert!(!rows.is_empty());
    for r in rows {
        assert_eq!(r.user_id, "mcp:ide-agent", "{r:?}");
    }
}

#[test]
fn stdout_carries_only_the_protocol_and_eof_ends_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_tftsr"))
        .args(["-vv", "mcp"])
        .env("TFTSR_DATA_DIR", dir.path())
        .env_remove("TFTSR_DB_KEY")
        .env_remove("RUST_LOG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let requests = [
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "raw-client", "version": "0"}}}),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}),
        json!({"jsonrpc": "2.0", "id": 3, "method": "no/such/method"}),
    ];
    {
        let mut stdin = child.stdin.take().unwrap();
        for r in requests {
            writeln!(stdin, "{r}").unwrap();
        }
    }
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("serving the incident record"), "{stderr}");

    let mut answers: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("every stdout line is JSON-RPC"))
        .collect();
    // Requests are served concurrently; answers come in any order.
    answers.sort_by_key(|a| a["id"].as_i64());
    assert_eq!(answers.len(), 3, "{answers:?}");
    assert_eq!(answers[0]["id"], 1);
    assert_eq!(answers[0]["result"]["serverInfo"]["name"], "tftsr");
    assert_eq!(answers[1]["id"], 2);
    assert_eq!(
        answers[1]["result"]["tools"].as_array().unwrap().len(),
        tools::incident_tools().names().len()
    );
    assert_eq!(answers[2]["id"], 3);
    assert_eq!(answers[2]["error"]["code"], -32601);
}

#[test]
fn a_wrong_key_is_reported_before_serving() {
    let dir = tempfile::tempdir().unwrap();
    let config =
        storage::DbConfig::resolve(dir.path(), Some("the right passphrase".into())).unwrap();
    drop(storage::Db::open(&config).unwrap());

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tftsr"))
        .arg("mcp")
        .env("TFTSR_DATA_DIR", dir.path())
        .env("TFTSR_DB_KEY", "a wrong passphrase")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(out.stdout.is_empty(), "nothing on the protocol stream");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("does not decrypt it"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[tokio::test]
async fn a_recorded_root_cause_drafts_the_rca_which_is_a_resource() {
    let dir = tempfile::tempdir().unwrap();
    let client = connect(dir.path(), "ide-agent").await;
    let issue = call_ok(&client, "create_issue", json!({"title": "Queue backlog"})).await;
    let id = issue["id"].as_str().unwrap().to_string();
    call_ok(
        &client,
        "record_why",
        json!({"issue_id": id, "level": 1, "question": "Why did the queue back up?", "answer": "consumers crashed", "evidence": "pod restarts"}),
    )
    .await;
    call_ok(
        &client,
        "record_root_cause",
        json!({"issue_id": id, "root_cause": "Consumers ran out of memory on large messages", "confidence": 0.8, "why_levels": [1]}),
    )
    .await;
    let timeline = call_ok(&client, "get_timeline", json!({"issue_id": id})).await;
    assert_eq!(
        event_types(&timeline),
        [
            "triage_started",
            "why_level_advanced",
            "root_cause_identified",
            "rca_generated"
        ]
    );
    let (_, rca) = read(&client, &format!("incident://{id}/rca")).await;
    assert!(
        rca.contains("Consumers ran out of memory on large messages"),
        "{rca}"
    );
    client.cancel().await.unwrap();
}
