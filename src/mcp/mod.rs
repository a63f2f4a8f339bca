//! `tftsr mcp`: the incident record over the Model Context Protocol, on stdio.
//!
//! Other agents, IDEs and desktop assistants work on the same incidents as
//! the REPL and the bot, through the same doors:
//!
//! - **Tools**: `tools/list` is the registry of [`tools::incident_tools`],
//!   each with the JSON schema the built-in agent sends a model;
//!   `tools/call` runs through [`tools::Registry::call`], so validation,
//!   redaction, size caps, timeline events and audit rows are exactly those
//!   of the built-in agent. The audit rows name the client: `mcp:<name>`,
//!   from the `clientInfo` it announced.
//! - **Resources** ([`resources`]): an incident's timeline (JSON) and its
//!   RCA and postmortem (Markdown), redacted with the incident's numbering.
//!
//! Errors, in MCP's two kinds: a tool that ran and failed (bad arguments, an
//! unknown incident, a storage failure) is a tool result with `isError: true`
//! and the text a model would get. A request that cannot be routed is a
//! JSON-RPC error. That includes a call to a tool that does not exist: the
//! MCP specification lists "unknown tools" among the protocol errors, with
//! code `-32602` (invalid params), so that is what such a call gets, with
//! the list of the tools that do exist.
//!
//! stdout carries the protocol and nothing else; logs go to stderr.

mod resources;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, ErrorData,
    Implementation, ListResourceTemplatesResult, ListResourcesResult, ListToolsResult,
    PaginatedRequestParams, ReadResourceRequestParams, ReadResourceResponse, ServerCapabilities,
    ServerConfig, ToolAnnotations,
};
use rmcp::service::RequestContext;
use rmcp::{RoleServer, ServerHandler, ServiceExt};
use storage::{IssueId, Store};
use tools::{Registry, Risk, ToolContext};

use crate::cli::Cli;

/// Longest client name kept in an actor. Client names are short product
/// names ("claude-desktop", "cursor"); anything longer is cut rather than
/// filling audit rows.
const MAX_CLIENT_NAME: usize = 64;

/// Actor of a client that announced no name.
const UNNAMED_CLIENT: &str = "mcp:unknown";

/// How long leaving waits for work still running (a read of stdin that no
/// EOF will end, a last database job) before the process exits anyway.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// What the client is told when it connects.
const INSTRUCTIONS: &str = "\
tftsr's incident record: incidents, evidence logs, the 5-Whys, the timeline and resolutions. \
Call the tools with an explicit `issue_id` (there is no current incident in an MCP session; \
create_issue returns a new one's id). Text from the record is PII-redacted: tokens such as \
[EMAIL_1] or [IPV4_2] stand for values hidden from you, numbered per incident, so the same \
token always means the same value within one incident. Resources: incident://<id>/timeline \
(JSON), incident://<id>/rca and incident://<id>/postmortem (Markdown, once drafted).";

/// Serves the incident record on stdin/stdout until the client leaves.
pub fn run(cli: &Cli) -> anyhow::Result<ExitCode> {
    // Opened before anything is served: a wrong key or a foreign file is
    // reported on stderr and the process exits non-zero, never half-serving.
    let db = crate::db_cmd::open(cli)?;
    let store = Store::from_db(db).context("starting the database writer")?;
    let server = IncidentServer::new(store)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let outcome = runtime.block_on(serve(server));
    runtime.shutdown_timeout(SHUTDOWN_GRACE);
    outcome
}

async fn serve(server: IncidentServer) -> anyhow::Result<ExitCode> {
    tracing::info!(
        database = %server.store.config().path.display(),
        tools = server.tools.len(),
        "serving the incident record over MCP on stdio"
    );
    let running = server
        .serve(rmcp::transport::stdio())
        .await
        .context("starting the MCP session")?;
    let reason = running
        .waiting()
        .await
        .context("the MCP session ended abnormally")?;
    tracing::info!(?reason, "MCP session ended");
    Ok(ExitCode::SUCCESS)
}

/// The MCP face of the incident record: the tool registry and the store.
#[derive(Clone)]
pub struct IncidentServer {
    store: Store,
    registry: Arc<Registry>,
    /// The registry's tools in MCP's shape, built once.
    tools: Arc<Vec<rmcp::model::Tool>>,
}

impl IncidentServer {
    pub fn new(store: Store) -> anyhow::Result<Self> {
        let registry = tools::incident_tools();
        let tools = mcp_tools(&registry)?;
        Ok(Self {
            store,
            registry: Arc::new(registry),
            tools: Arc::new(tools),
        })
    }
}

/// The registry's specs as MCP tools: `parameters` becomes `inputSchema`,
/// unchanged, and the risk becomes the read-only hint.
fn mcp_tools(registry: &Registry) -> anyhow::Result<Vec<rmcp::model::Tool>> {
    registry
        .specs()
        .into_iter()
        .map(|spec| {
            let serde_json::Value::Object(schema) = spec.parameters else {
                anyhow::bail!(
                    "the schema of tool `{}` is not a JSON object; MCP needs one",
                    spec.name
                );
            };
            let read_only = registry.risk(&spec.name) == Some(Risk::ReadOnly);
            let annotations = ToolAnnotations::new()
                .read_only(read_only)
                // The tools add to the record and never delete from it.
                .destructive(false)
                // They touch only the incident database, nothing outside.
                .open_world(false);
            Ok(rmcp::model::Tool::new(spec.name, spec.description, schema).annotate(annotations))
        })
        .collect()
}

/// The audit actor of a client: `mcp:<clientInfo.name>`, printable and bounded.
fn actor(client: Option<Implementation>) -> String {
    let name: String = client
        .map(|c| c.name)
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_CLIENT_NAME)
        .collect();
    match name.trim() {
        "" => UNNAMED_CLIENT.to_string(),
        name => format!("mcp:{name}"),
    }
}

/// The incident a call names in its `issue_id` argument. An MCP session has
/// no incident of its own, so each call's incident is the one it names; tools
/// that redact with "the conversation's incident" then use that incident's
/// numbering.
fn named_issue(args: Option<&serde_json::Map<String, serde_json::Value>>) -> Option<IssueId> {
    args?
        .get("issue_id")?
        .as_str()
        .map(str::trim)
        .filter(|id| !id.is_empty())
        .map(IssueId::from_string)
}

impl ServerHandler for IncidentServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_resources()
                .build(),
        )
        .with_server_info(
            Implementation::new("tftsr", env!("CARGO_PKG_VERSION"))
                .with_title("tftsr incident record"),
        )
        .with_instructions(INSTRUCTIONS)
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(self.tools.as_ref().clone()))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let name = request.name.as_ref();
        if self.registry.risk(name).is_none() {
            return Err(ErrorData::invalid_params(
                format!(
                    "unknown tool `{name}`; the available tools are: {}",
                    self.registry.names().join(", ")
                ),
                None,
            ));
        }
        let actor = actor(context.client_info());
        let issue = named_issue(request.arguments.as_ref());
        // No arguments at all reads as `{}`, as the registry parses it.
        let raw_args = request
            .arguments
            .map(|a| serde_json::Value::Object(a).to_string())
            .unwrap_or_default();
        let ctx = ToolContext::new(self.store.clone(), actor.clone()).with_issue(issue);
        let result = self.registry.call(&ctx, name, &raw_args).await;
        tracing::info!(tool = name, actor, ok = result.ok, "tool call");
        if result.ok
            && name == "record_root_cause"
            && let Some(id) = serde_json::from_str::<serde_json::Value>(&result.content)
                .ok()
                .and_then(|v| v["issue_id"].as_str().map(storage::IssueId::from_string))
        {
            // A recorded root cause is drafted into the RCA without being
            // asked, as in the REPL and the bot; here from the record alone
            // (no model of our own to write the narrative).
            if let Err(e) =
                tools::documents::draft_rca(&self.store, &id, Default::default(), false, &actor)
                    .await
            {
                tracing::warn!(error = %e, "the RCA could not be drafted");
            }
        }
        let content = vec![ContentBlock::text(result.content)];
        Ok(if result.ok {
            CallToolResult::success(content)
        } else {
            CallToolResult::error(content)
        }
        .into())
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        Ok(ListResourcesResult::with_all_items(
            resources::list(&self.store).await?,
        ))
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        Ok(ListResourceTemplatesResult::with_all_items(
            resources::templates(),
        ))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        Ok(resources::read(&self.store, &request.uri).await?.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(name: &str) -> Option<Implementation> {
        Some(Implementation::new(name, "1.0"))
    }

    #[test]
    fn the_actor_names_the_client() {
        assert_eq!(actor(client("claude-desktop")), "mcp:claude-desktop");
        assert_eq!(actor(client("  ")), UNNAMED_CLIENT);
        assert_eq!(actor(None), UNNAMED_CLIENT);
        assert_eq!(actor(client("evil\nname\u{7}")), "mcp:evilname");
        assert_eq!(
            actor(client(&"x".repeat(500))),
            format!("mcp:{}", "x".repeat(MAX_CLIENT_NAME))
        );
    }

    #[test]
    fn a_call_names_its_incident_by_issue_id() {
        let args = serde_json::json!({"issue_id": " abc ", "level": 1});
        assert_eq!(
            named_issue(args.as_object()),
            Some(IssueId::from_string("abc"))
        );
        let args = serde_json::json!({"issue_id": "", "level": 1});
        assert_eq!(named_issue(args.as_object()), None);
        let args = serde_json::json!({"issue_id": 7});
        assert_eq!(named_issue(args.as_object()), None);
        assert_eq!(named_issue(None), None);
    }

    #[test]
    fn every_registry_tool_is_offered_with_its_schema() {
        let registry = tools::incident_tools();
        let offered = mcp_tools(&registry).unwrap_or_default();
        let specs = registry.specs();
        assert_eq!(offered.len(), specs.len());
        for (tool, spec) in offered.iter().zip(&specs) {
            assert_eq!(tool.name, spec.name);
            assert_eq!(tool.description.as_deref(), Some(spec.description.as_str()));
            assert_eq!(
                serde_json::Value::Object(tool.input_schema.as_ref().clone()),
                spec.parameters
            );
        }
    }
}
