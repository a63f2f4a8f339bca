#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use storage::{DbConfig, DbKey, Store};
use tools::{Registry, ToolContext, ToolResult};

pub struct Env {
    pub _dir: tempfile::TempDir,
    pub ctx: ToolContext,
    pub reg: Registry,
}

pub async fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(DbConfig {
        path: dir.path().join("tftsr.db"),
        key: DbKey::Raw([9; 32]),
        key_source: "test".into(),
    })
    .await
    .unwrap();
    Env {
        _dir: dir,
        ctx: ToolContext::new(store, "tester"),
        reg: tools::incident_tools(),
    }
}

impl Env {
    pub async fn call(&self, name: &str, args: serde_json::Value) -> ToolResult {
        self.reg.call(&self.ctx, name, &args.to_string()).await
    }

    pub async fn ok(&self, name: &str, args: serde_json::Value) -> serde_json::Value {
        let r = self.call(name, args).await;
        assert!(r.ok, "{name} failed: {}", r.content);
        serde_json::from_str(&r.content).unwrap()
    }

    pub async fn err(&self, name: &str, args: serde_json::Value) -> String {
        let r = self.call(name, args).await;
        assert!(!r.ok, "{name} should fail: {}", r.content);
        assert!(!r.infrastructure, "{}", r.content);
        r.content
    }

    /// Row counts of every table and the audit chain length: if a call
    /// "changes nothing", this stays equal.
    pub async fn fingerprint(&self) -> Vec<(String, i64)> {
        self.ctx
            .store
            .read(|c| {
                let tables: Vec<String> = c
                    .prepare("SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE 'issues_fts%' ORDER BY name")?
                    .query_map([], |r| r.get(0))?
                    .collect::<Result<_, _>>()?;
                let mut out = Vec::new();
                for t in tables {
                    let n: i64 = c.query_row(&format!("SELECT count(*) FROM {t}"), [], |r| r.get(0))?;
                    out.push((t, n));
                }
                let updated: String = c.query_row("SELECT COALESCE(group_concat(updated_at), '') FROM issues", [], |r| r.get(0))?;
                out.push((format!("updated:{updated}"), 0));
                Ok(out)
            })
            .await
            .unwrap()
    }

    pub async fn new_issue(&self, title: &str) -> String {
        let v = self
            .ok(
                "create_issue",
                serde_json::json!({"title": title, "severity": "high", "category": "network"}),
            )
            .await;
        v["id"].as_str().unwrap().to_string()
    }
}
