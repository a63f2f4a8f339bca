//! Drafting the RCA and the postmortem.
//!
//! The facts (summary, timeline, metrics, 5-Whys, root cause, evidence) are
//! rendered from the database by `tools::documents`. The narrative sections
//! come from ONE model call that is given only those facts — redacted with
//! the incident's numbering — told to cite them and to write "Not
//! established" rather than invent. Without a model (or if its answer is not
//! usable) they come from the person's own answers, or stay as marked
//! prompts.

use serde::de::DeserializeOwned;
use storage::{DocType, IssueId};
use tokio_util::sync::CancellationToken;
use tools::documents::{self, PostmortemNarrative, RcaNarrative, SavedDocument};

use crate::engine::{Engine, EngineError};
use crate::llm::{ChatRequest, StreamEvent, WireMessage};

const RCA_PROMPT: &str = "You write the narrative sections of a root-cause analysis for an incident. \
Use ONLY the facts in the JSON you are given; cite them (timeline times, why levels, log names and line numbers). \
Where the facts do not establish something, write \"Not established\". Never guess names, numbers or causes. \
Redaction tokens such as [IPV4_1] stand for hidden values: keep them as they are. \
Reply with ONE JSON object and nothing else, with the string fields: \
\"analysis\" (how the failure unfolded and why), \"immediate_actions\" (what restored service), \
\"long_term_actions\" (what prevents a recurrence), \"lessons_learned\".";

const POSTMORTEM_PROMPT: &str = "You write the narrative sections of a blameless postmortem for an incident. \
Use ONLY the facts in the JSON you are given; cite them. Describe what the system and the process allowed, never \
who is to blame. Where the facts do not establish something, write \"Not established\". Never guess names, numbers \
or causes. Redaction tokens such as [IPV4_1] stand for hidden values: keep them as they are. \
Reply with ONE JSON object and nothing else, with the string fields \"executive_summary\", \"impact\", \
\"contributing_factors\", \"what_went_well\", \"what_could_be_improved\", and \"action_items\": a list of \
{\"action\", \"owner\", \"due\"} (owner and due \"Not established\" when the facts do not say).";

/// The first JSON object in a model's reply (bare, or in a fenced block).
fn parse_object<T: DeserializeOwned>(text: &str) -> Option<T> {
    let start = text.find('{')?;
    let end = text.rfind('}')?;
    serde_json::from_str(text.get(start..=end)?).ok()
}

/// Asks the model for the narrative. `None` when there is no model or its
/// answer is not a usable JSON object (then notes and prompts are used).
async fn narrative<T: DeserializeOwned>(
    engine: &Engine,
    issue: &IssueId,
    system: &str,
    cancel: &CancellationToken,
) -> Result<Option<T>, EngineError> {
    let Some(llm) = engine.llm() else {
        return Ok(None);
    };
    let id = issue.clone();
    let facts = engine
        .store()
        .read(move |c| documents::load_facts(c, &id))
        .await?;
    let mut value = serde_json::to_value(&facts).map_err(storage::StorageError::Json)?;
    tools::redaction::redact_json(engine.store(), Some(issue), &mut value).await?;
    let request = ChatRequest {
        messages: vec![
            WireMessage::system(system),
            WireMessage::user(value.to_string()),
        ],
        ..ChatRequest::default()
    };
    let mut quiet = |_: StreamEvent| {};
    let completion = llm.chat(&request, &mut quiet, cancel).await?;
    crate::engine::audit_model_call(engine, issue, None, &completion, &request, "draft").await?;
    let parsed = parse_object(&completion.text);
    if parsed.is_none() {
        tracing::warn!(
            "the model's narrative was not a JSON object; drafting from the record alone"
        );
    }
    Ok(parsed)
}

/// Drafts (or redrafts in place) a document of an incident.
pub async fn draft(
    engine: &Engine,
    issue: &IssueId,
    doc_type: DocType,
    replace_edited: bool,
    cancel: &CancellationToken,
) -> Result<SavedDocument, EngineError> {
    let actor = engine.config().actor.clone();
    let saved = match doc_type {
        DocType::Rca => {
            let n: RcaNarrative = narrative(engine, issue, RCA_PROMPT, cancel)
                .await?
                .unwrap_or_default();
            documents::draft_rca(engine.store(), issue, n, replace_edited, &actor).await?
        }
        DocType::Postmortem => {
            let n: PostmortemNarrative = narrative(engine, issue, POSTMORTEM_PROMPT, cancel)
                .await?
                .unwrap_or_default();
            documents::draft_postmortem(engine.store(), issue, n, replace_edited, &actor).await?
        }
    };
    Ok(saved)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn narrative_json_is_found_in_fenced_replies() {
        let n: RcaNarrative =
            parse_object("Here:\n```json\n{\"analysis\": \"x\", \"lessons_learned\": \"y\"}\n```")
                .unwrap();
        assert_eq!(n.analysis.as_deref(), Some("x"));
        assert_eq!(n.lessons_learned.as_deref(), Some("y"));
        assert!(parse_object::<RcaNarrative>("no json here").is_none());
    }
}
