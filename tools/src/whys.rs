//! 5-Whys tools: record a why level, record the root cause.
//!
//! Levels advance only through `record_why` (never by reading prose): a level
//! must follow the deepest one recorded, a level can be revised in place, and
//! there is no sixth.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;
use storage::repo::root_causes::{self, RootCause};
use storage::repo::steps::{self, MAX_LEVEL, NewStep};
use storage::repo::timeline;
use storage::{IssueId, StorageError, TimelineEventType};

use crate::args;
use crate::error::ToolError;
use crate::issue_tools::{MAX_TEXT, audit};
use crate::tool::{Risk, Tool, ToolContext};

/// What is stored as the evidence of an answer given without any: the RCA
/// shows such a level as an assumption, not a finding.
pub const ASSUMPTION: &str = "ASSUMPTION: no evidence cited";

pub struct RecordWhy;

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordWhyArgs {
    /// The incident's id. Omit it to mean the incident of this conversation.
    #[serde(default)]
    pub issue_id: Option<String>,
    /// The why level, 1–5. Level N needs level N-1 recorded; recording an existing level revises it.
    pub level: i64,
    /// The question asked at this level ("Why did the API return 502s?").
    pub question: String,
    /// The answer found.
    pub answer: String,
    /// What supports the answer: log lines with their numbers (from grep_log/read_log), timeline entries,
    /// or what the person observed. Without evidence the answer is recorded as an ASSUMPTION.
    #[serde(default)]
    pub evidence: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RecordedWhy {
    pub issue_id: IssueId,
    pub level: i64,
    pub question: String,
    pub answer: String,
    pub evidence: String,
    /// No evidence was given: the answer stands as an assumption.
    pub assumption: bool,
    /// An existing level was revised rather than a new one recorded.
    pub revised: bool,
    /// What to do next.
    pub next: String,
}

impl Tool for RecordWhy {
    const NAME: &'static str = "record_why";
    const DESCRIPTION: &'static str = "Record one level of the 5-Whys: the question, the answer and the evidence \
        behind it. Call once per level, in order (1, 2, 3…); calling again for a recorded level revises it. \
        Records `why_level_advanced`.";
    const RISK: Risk = Risk::Mutating;
    type Args = RecordWhyArgs;
    type Output = RecordedWhy;

    async fn run(&self, ctx: &ToolContext, a: RecordWhyArgs) -> Result<RecordedWhy, ToolError> {
        let n = Self::NAME;
        let issue = ctx.issue(n, a.issue_id.as_deref())?;
        let level = args::in_range(n, "level", a.level, 1, MAX_LEVEL)?;
        let question = args::text(n, "question", &a.question, 1_000)?;
        let answer = args::text(n, "answer", &a.answer, MAX_TEXT)?;
        let evidence = args::opt_text(n, "evidence", a.evidence.as_deref(), MAX_TEXT)?;
        let assumption = evidence.is_none();
        let evidence = evidence.unwrap_or_else(|| ASSUMPTION.to_string());
        let actor = ctx.actor.clone();
        Ok(ctx
            .store
            .write(move |tx| {
                storage::repo::issues::get(tx, &issue)?;
                let deepest = steps::deepest_level(tx, &issue)?;
                if level > deepest + 1 {
                    return Err(StorageError::Invalid(format!(
                        "why {level} cannot be recorded before why {}: levels go in order (deepest recorded: {deepest})",
                        deepest + 1
                    )));
                }
                let (step, previous) = steps::record_level(
                    tx,
                    &issue,
                    &NewStep {
                        step_order: level,
                        why_question: question.clone(),
                        answer: Some(answer.clone()),
                        evidence: Some(evidence.clone()),
                    },
                )?;
                let revised = previous.is_some();
                if revised {
                    audit(
                        tx,
                        &actor,
                        "why_revised",
                        &issue,
                        json!({"level": level, "step_id": step.id, "previous": previous}),
                    )?;
                } else {
                    timeline::add_event(
                        tx,
                        &issue,
                        TimelineEventType::WhyLevelAdvanced,
                        &format!("Why {level}: {question}"),
                        &json!({"from_level": deepest, "to_level": level, "question": question}),
                        &actor,
                    )?;
                }
                let next = if level >= MAX_LEVEL {
                    "all five levels are recorded: record the root cause with record_root_cause".to_string()
                } else {
                    format!(
                        "ask why {} of {MAX_LEVEL}, or record the root cause if this answer is it",
                        level.max(deepest) + 1
                    )
                };
                Ok(RecordedWhy { issue_id: issue, level, question, answer, evidence, assumption, revised, next })
            })
            .await?)
    }

    fn incident(_: &RecordWhyArgs, out: &RecordedWhy, _: &ToolContext) -> Option<IssueId> {
        Some(out.issue_id.clone())
    }

    fn summary(out: &RecordedWhy) -> String {
        format!(
            "{} why {} of {}{}",
            if out.revised { "revised" } else { "recorded" },
            out.level,
            MAX_LEVEL,
            if out.assumption {
                " (assumption: no evidence)"
            } else {
                ""
            }
        )
    }
}

pub struct RecordRootCause;

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordRootCauseArgs {
    /// The incident's id. Omit it to mean the incident of this conversation.
    #[serde(default)]
    pub issue_id: Option<String>,
    /// The root cause, stated plainly and specifically.
    pub root_cause: String,
    /// How sure the evidence makes you, 0.0–1.0.
    pub confidence: f64,
    /// The recorded why levels (1–5) this root cause rests on.
    pub why_levels: Vec<i64>,
}

impl Tool for RecordRootCause {
    const NAME: &'static str = "record_root_cause";
    const DESCRIPTION: &'static str = "Record the root cause the 5-Whys reached, with a confidence and the why levels \
        it rests on. Only when the recorded whys support it. Records `root_cause_identified`.";
    const RISK: Risk = Risk::Mutating;
    type Args = RecordRootCauseArgs;
    type Output = RootCause;

    async fn run(&self, ctx: &ToolContext, a: RecordRootCauseArgs) -> Result<RootCause, ToolError> {
        let n = Self::NAME;
        let issue = ctx.issue(n, a.issue_id.as_deref())?;
        let root_cause = args::text(n, "root_cause", &a.root_cause, MAX_TEXT)?;
        if !a.confidence.is_finite() || !(0.0..=1.0).contains(&a.confidence) {
            return Err(ToolError::invalid(
                n,
                format!("`confidence` must be 0–1, got {}", a.confidence),
            ));
        }
        if a.why_levels.is_empty() {
            return Err(ToolError::invalid(
                n,
                "`why_levels` must name at least one recorded why level",
            ));
        }
        for &l in &a.why_levels {
            args::in_range(n, "why_levels[]", l, 1, MAX_LEVEL)?;
        }
        let mut levels = a.why_levels.clone();
        levels.sort_unstable();
        levels.dedup();
        let confidence = a.confidence;
        let actor = ctx.actor.clone();
        Ok(ctx
            .store
            .write(move |tx| {
                storage::repo::issues::get(tx, &issue)?;
                let recorded: Vec<i64> = steps::list_for_issue(tx, &issue)?
                    .iter()
                    .map(|s| s.step_order)
                    .collect();
                if let Some(missing) = levels.iter().find(|l| !recorded.contains(l)) {
                    return Err(StorageError::Invalid(format!(
                        "why level {missing} is not recorded; recorded levels: {}",
                        if recorded.is_empty() {
                            "none (record the whys with record_why first)".to_string()
                        } else {
                            recorded
                                .iter()
                                .map(i64::to_string)
                                .collect::<Vec<_>>()
                                .join(", ")
                        }
                    )));
                }
                let rc = root_causes::set_root_cause(tx, &issue, &root_cause, confidence, &levels)?;
                timeline::add_event(
                    tx,
                    &issue,
                    TimelineEventType::RootCauseIdentified,
                    &format!("Root cause identified: {root_cause}"),
                    &json!({"root_cause": root_cause, "confidence": confidence}),
                    &actor,
                )?;
                Ok(rc)
            })
            .await?)
    }

    fn incident(_: &RecordRootCauseArgs, out: &RootCause, _: &ToolContext) -> Option<IssueId> {
        Some(out.issue_id.clone())
    }

    fn summary(out: &RootCause) -> String {
        format!("root cause recorded (confidence {:.2})", out.confidence)
    }
}
