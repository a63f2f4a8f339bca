//! `tftsr db ...`: maintenance of the incident database.

use std::process::ExitCode;

use anyhow::Context;
use storage::{Db, DbConfig};

use crate::cli::{Cli, DbCommand};

/// Resolves the database of the command line (or environment) and opens it.
pub fn open(cli: &Cli) -> anyhow::Result<Db> {
    let dir = cli
        .data_dir
        .clone()
        .unwrap_or_else(storage::default_data_dir);
    let config = DbConfig::resolve(&dir, std::env::var(storage::open::DB_KEY_ENV).ok())?;
    let db = Db::open(&config).with_context(|| format!("opening {}", config.path.display()))?;
    Ok(db)
}

/// The same database as an async store (one writer thread, pooled readers),
/// for the long-running subcommands.
pub async fn open_store(cli: &Cli) -> anyhow::Result<storage::Store> {
    let dir = cli
        .data_dir
        .clone()
        .unwrap_or_else(storage::default_data_dir);
    let config = DbConfig::resolve(&dir, std::env::var(storage::open::DB_KEY_ENV).ok())?;
    let path = config.path.clone();
    let store = storage::Store::open(config)
        .await
        .with_context(|| format!("opening {}", path.display()))?;
    Ok(store)
}

pub fn run(cli: &Cli, cmd: &DbCommand) -> anyhow::Result<ExitCode> {
    let db = open(cli)?;
    match cmd {
        DbCommand::Verify { json } => {
            let report = storage::verify::verify(db.conn())?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print_report(&db, &report);
            }
            Ok(if report.is_ok() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        DbCommand::Info => {
            let c = db.conn();
            println!("database:   {}", db.config().path.display());
            println!("key:        {}", db.config().key_source);
            let migrations = storage::migrate::applied(c)?;
            println!(
                "migrations: {} (latest {})",
                migrations.len(),
                migrations.last().map(String::as_str).unwrap_or("none")
            );
            for table in [
                "issues",
                "log_files",
                "ai_conversations",
                "ai_messages",
                "timeline_events",
                "documents",
                "audit_log",
            ] {
                let n: i64 =
                    c.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))?;
                println!("{table:<17} {n}");
            }
            Ok(ExitCode::SUCCESS)
        }
        DbCommand::Providers => {
            let list = storage::repo::providers::list(db.conn())?;
            if list.is_empty() {
                println!("no provider profiles (add one with `tftsr db provider-add`)");
            }
            for p in list {
                println!(
                    "{:<16} {:<28} {} (context {}, key {})",
                    p.name,
                    p.model,
                    p.base_url,
                    p.context_window
                        .map(|w| w.to_string())
                        .unwrap_or_else(|| "default".into()),
                    if p.encrypted_api_key.is_some() {
                        "stored"
                    } else {
                        "none"
                    }
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        DbCommand::ProviderAdd {
            name,
            base_url,
            model,
            context_window,
            api_key_env,
        } => {
            let api_key = match api_key_env {
                Some(var) => Some(
                    std::env::var(var)
                        .with_context(|| format!("environment variable {var} is not set"))?,
                ),
                None => None,
            };
            let dir = db
                .config()
                .path
                .parent()
                .map(|p| p.to_path_buf())
                .unwrap_or_default();
            let secrets = storage::SecretBox::open(
                &dir,
                std::env::var(storage::crypto::ENCRYPTION_KEY_ENV).ok(),
            )?;
            let p = storage::repo::providers::upsert(
                db.conn(),
                &secrets,
                &storage::repo::providers::NewProvider {
                    name: name.clone(),
                    base_url: base_url.clone(),
                    model: model.clone(),
                    context_window: *context_window,
                    api_key,
                },
            )?;
            println!(
                "stored provider profile `{}` ({} at {})",
                p.name, p.model, p.base_url
            );
            Ok(ExitCode::SUCCESS)
        }
        DbCommand::ProviderRemove { name } => {
            if storage::repo::providers::delete(db.conn(), name)? {
                println!("removed provider profile `{name}`");
                Ok(ExitCode::SUCCESS)
            } else {
                anyhow::bail!("no provider profile named `{name}`")
            }
        }
        DbCommand::RebuildFts => {
            storage::verify::rebuild_fts(db.conn())?;
            println!("full-text index rebuilt");
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn print_report(db: &Db, r: &storage::verify::VerifyReport) {
    let mark = |ok: bool| if ok { "ok  " } else { "FAIL" };
    println!("database {}", db.config().path.display());
    println!("{} SQLite integrity check", mark(r.integrity.is_empty()));
    for p in &r.integrity {
        println!("       {p}");
    }
    println!(
        "{} SQLCipher page authentication (HMAC)",
        mark(r.cipher_integrity.is_empty())
    );
    for p in &r.cipher_integrity {
        println!("       {p}");
    }
    println!("{} foreign keys", mark(r.foreign_keys.is_empty()));
    for p in &r.foreign_keys {
        println!("       {p}");
    }
    println!("{} full-text index", mark(r.fts.is_none()));
    if let Some(p) = &r.fts {
        println!("       {p}");
    }
    match &r.audit_chain.first_break {
        None => println!("ok   audit chain ({} entries)", r.audit_chain.entries),
        Some(b) => {
            println!("FAIL audit chain ({} entries)", r.audit_chain.entries);
            println!(
                "       first broken link: entry {} (id {}): {}",
                b.position, b.id, b.reason
            );
        }
    }
    println!("{} migrations applied", r.migrations.len());
    println!(
        "{}",
        if r.is_ok() {
            "database OK"
        } else {
            "database has PROBLEMS"
        }
    );
}
