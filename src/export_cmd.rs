//! `tftsr export`: an incident's RCA or postmortem as Markdown, HTML or PDF.

use std::process::ExitCode;

use agent::engine::{Engine, EngineConfig};
use storage::{DocType, IssueId};
use tokio_util::sync::CancellationToken;
use tools::documents::{ExportFormat, Exported};

use crate::cli::{Cli, DocKind, ExportArgs, ExportFormat as CliFormat};

/// Exports a document, drafting it first if the incident has none yet
/// (records `document_exported`).
pub async fn export(
    engine: &Engine,
    issue: &IssueId,
    doc_type: DocType,
    format: ExportFormat,
    path: Option<std::path::PathBuf>,
) -> anyhow::Result<Exported> {
    let id = issue.clone();
    let existing = engine
        .store()
        .read(move |c| {
            storage::repo::issues::get(c, &id)?;
            storage::repo::documents::find_by_type(c, &id, doc_type)
        })
        .await?;
    if existing.is_none() {
        agent::drafting::draft(engine, issue, doc_type, false, &CancellationToken::new()).await?;
    }
    Ok(tools::documents::export(
        engine.store(),
        issue,
        doc_type,
        format,
        path,
        &engine.config().actor,
    )
    .await?)
}

pub fn run(cli: &Cli, args: &ExportArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let store = crate::db_cmd::open_store(cli).await?;
        let model = crate::model::resolve(cli, &store).await?;
        let config = EngineConfig {
            context_window: model.context_window,
            ..EngineConfig::default()
        };
        let engine = Engine::new(store, model.client, config);
        let doc_type = match args.doc {
            DocKind::Rca => DocType::Rca,
            DocKind::Postmortem => DocType::Postmortem,
        };
        let format = match args.format {
            CliFormat::Md => ExportFormat::Md,
            CliFormat::Html => ExportFormat::Html,
            CliFormat::Pdf => ExportFormat::Pdf,
        };
        let out = export(
            &engine,
            &IssueId::from_string(args.issue.trim()),
            doc_type,
            format,
            args.output.clone(),
        )
        .await?;
        println!("{}", out.path.display());
        Ok(ExitCode::SUCCESS)
    })
}
