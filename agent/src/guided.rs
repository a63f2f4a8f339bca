//! The guided 5-Whys without a model: deterministic questions, recorded
//! through the same tools a model would use, so the database looks the same
//! either way.
//!
//! The walk opens with the first phase's questions (what happened, since
//! when, who is affected, what changed), then asks "Why …?" built from the
//! previous answer, asking for evidence each time (none given: the level is
//! recorded as an assumption). After each level the person says whether the
//! root cause is reached; the fifth level ends the chain. The root cause is
//! recorded with a confidence, the RCA is drafted at once, and three
//! follow-up questions (what restored service, what prevents a recurrence,
//! a lesson) complete it.

use serde_json::json;
use storage::repo::{notes, steps};
use storage::{DocType, IssueId, NoteKind};
use tokio_util::sync::CancellationToken;

use crate::engine::{Engine, EngineError};

/// The deepest level of the walk.
pub const MAX_LEVEL: i64 = 5;
/// Confidence recorded when the person just presses Enter.
pub const DEFAULT_CONFIDENCE: f64 = 0.7;

#[derive(Debug, Clone, PartialEq)]
enum Step {
    Symptom,
    Started,
    Impact,
    Change,
    WhyAnswer {
        level: i64,
        question: String,
    },
    WhyEvidence {
        level: i64,
        question: String,
        answer: String,
    },
    IsRoot {
        level: i64,
    },
    RootStatement,
    Confidence {
        statement: String,
    },
    ImmediateAction,
    LongTermAction,
    Lesson,
    Done,
}

/// What the walk says after an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuidedReply {
    /// Lines to show, ending with the next question (unless done).
    pub lines: Vec<String>,
    pub done: bool,
}

/// One guided walk over one incident.
#[derive(Debug)]
pub struct GuidedWalk {
    issue: IssueId,
    step: Step,
    /// The answer the next "why" is built from.
    last: String,
}

fn is_yes(text: &str) -> bool {
    matches!(
        text.trim().to_ascii_lowercase().as_str(),
        "y" | "yes" | "yeah" | "yep" | "root" | "root cause"
    )
}

fn skip(text: &str) -> bool {
    matches!(
        text.trim().to_ascii_lowercase().as_str(),
        "" | "-" | "skip" | "unknown" | "n/a" | "none" | "nothing known"
    )
}

/// "Why did this happen: <previous answer>?", kept to one readable line.
fn why_question(previous: &str) -> String {
    let first = previous
        .trim()
        .lines()
        .next()
        .unwrap_or("")
        .trim()
        .trim_end_matches(['.', '!', '?']);
    let short: String = first.chars().take(160).collect();
    format!("Why did this happen: {short}?")
}

impl GuidedWalk {
    /// Starts (or resumes) the walk. `symptom` is the person's first message
    /// when the walk opens a new incident; it answers the first question.
    pub async fn start(
        engine: &Engine,
        issue: &IssueId,
        symptom: Option<&str>,
    ) -> Result<(Self, GuidedReply), EngineError> {
        let id = issue.clone();
        let (recorded, notes) = engine
            .store()
            .read(move |c| {
                Ok((
                    steps::list_for_issue(c, &id)?,
                    notes::list_for_issue(c, &id)?,
                ))
            })
            .await?;
        let mut walk = Self {
            issue: issue.clone(),
            step: Step::Symptom,
            last: String::new(),
        };
        let mut lines = vec![
            "Guided 5-Whys: one question at a time. Type /stop to leave the walk.".to_string(),
        ];
        if let Some(last) = recorded.last() {
            walk.last = last.answer.clone().unwrap_or_default();
            if last.step_order >= MAX_LEVEL {
                walk.step = Step::RootStatement;
            } else {
                let level = last.step_order + 1;
                lines.push(format!(
                    "{} whys are recorded; continuing with why {level}.",
                    recorded.len()
                ));
                walk.step = Step::WhyAnswer {
                    level,
                    question: why_question(&walk.last),
                };
            }
        } else {
            let has = |k: NoteKind| notes.iter().any(|n| n.kind == k);
            walk.last = notes
                .iter()
                .find(|n| n.kind == NoteKind::Symptom)
                .map(|n| n.text.clone())
                .unwrap_or_default();
            if let Some(s) = symptom
                .filter(|s| !s.trim().is_empty())
                .filter(|_| !has(NoteKind::Symptom))
            {
                walk.note(engine, NoteKind::Symptom, s).await?;
                walk.last = s.to_string();
            }
            walk.step = if walk.last.is_empty() {
                Step::Symptom
            } else if !has(NoteKind::Started) {
                Step::Started
            } else if !has(NoteKind::Impact) {
                Step::Impact
            } else if !has(NoteKind::Change) {
                Step::Change
            } else {
                Step::WhyAnswer {
                    level: 1,
                    question: why_question(&walk.last),
                }
            };
        }
        lines.push(walk.question());
        Ok((walk, GuidedReply { lines, done: false }))
    }

    pub fn issue(&self) -> &IssueId {
        &self.issue
    }

    pub fn is_done(&self) -> bool {
        self.step == Step::Done
    }

    /// "Why 2 of 5" while the chain is being walked.
    pub fn progress(&self) -> Option<String> {
        match &self.step {
            Step::WhyAnswer { level, .. } | Step::WhyEvidence { level, .. } => {
                Some(format!("Why {level} of {MAX_LEVEL}"))
            }
            _ => None,
        }
    }

    /// The question the walk waits on.
    pub fn question(&self) -> String {
        match &self.step {
            Step::Symptom => "What happened? Describe the symptom as a user or a monitor sees it.".into(),
            Step::Started => "Since when? (a time such as 14:02, or 2026-11-27 14:02 UTC; Enter if unknown)".into(),
            Step::Impact => "Who or what is affected, and how badly?".into(),
            Step::Change => "What changed just before it started? (deploys, config, traffic, infrastructure; Enter if nothing known)".into(),
            Step::WhyAnswer { level, question } => format!("Why {level} of {MAX_LEVEL}: {question}"),
            Step::WhyEvidence { .. } => {
                "What shows this? (log lines with numbers, a metric, what you saw; Enter records it as an assumption)".into()
            }
            Step::IsRoot { .. } => "Is this the root cause? (yes/no)".into(),
            Step::RootStatement => format!(
                "State the root cause in one sentence (Enter to use: \"{}\")",
                self.last.chars().take(120).collect::<String>()
            ),
            Step::Confidence { .. } => format!("How confident are you, from 0 to 1? (Enter for {DEFAULT_CONFIDENCE})"),
            Step::ImmediateAction => "What was done to restore service? (Enter to skip)".into(),
            Step::LongTermAction => "What would prevent this from happening again? (Enter to skip)".into(),
            Step::Lesson => "One lesson learned? (Enter to skip)".into(),
            Step::Done => "The walk is complete.".into(),
        }
    }

    /// A note of an answer the person may skip ("-", "skip", "unknown", …).
    async fn optional_note(
        &self,
        engine: &Engine,
        kind: NoteKind,
        text: &str,
    ) -> Result<(), EngineError> {
        if skip(text) {
            return Ok(());
        }
        self.note(engine, kind, text).await
    }

    async fn note(&self, engine: &Engine, kind: NoteKind, text: &str) -> Result<(), EngineError> {
        let (id, text, actor) = (
            self.issue.clone(),
            text.trim().to_string(),
            engine.config().actor.clone(),
        );
        engine
            .store()
            .write(move |tx| {
                notes::add(tx, &id, kind, &text)?;
                storage::audit::append_for_issue(
                    tx,
                    &actor,
                    "note_added",
                    &id,
                    json!({"kind": kind, "text": text}),
                )?;
                Ok(())
            })
            .await?;
        Ok(())
    }

    async fn tool(
        &self,
        engine: &Engine,
        name: &str,
        args: serde_json::Value,
    ) -> Result<serde_json::Value, String> {
        let r = engine.run_tool(Some(self.issue.clone()), name, args).await;
        if r.ok {
            Ok(serde_json::from_str(&r.content).unwrap_or_default())
        } else {
            Err(r.content.trim_start_matches("ERROR: ").to_string())
        }
    }

    /// Takes the person's answer to the current question.
    pub async fn answer(
        &mut self,
        engine: &Engine,
        text: &str,
    ) -> Result<GuidedReply, EngineError> {
        let text = text.trim();
        let mut lines = Vec::new();
        let next = match std::mem::replace(&mut self.step, Step::Done) {
            Step::Symptom if skip(text) => {
                lines.push(
                    "Please describe what is going wrong; everything else builds on it.".into(),
                );
                Step::Symptom
            }
            Step::Symptom => {
                self.note(engine, NoteKind::Symptom, text).await?;
                self.last = text.to_string();
                Step::Started
            }
            Step::Started => {
                self.optional_note(engine, NoteKind::Started, text).await?;
                Step::Impact
            }
            Step::Impact => {
                self.optional_note(engine, NoteKind::Impact, text).await?;
                Step::Change
            }
            Step::Change => {
                self.optional_note(engine, NoteKind::Change, text).await?;
                Step::WhyAnswer {
                    level: 1,
                    question: why_question(&self.last),
                }
            }
            Step::WhyAnswer { level, question } if text.is_empty() => {
                lines.push("An answer is needed to go deeper (or /stop to leave the walk).".into());
                Step::WhyAnswer { level, question }
            }
            Step::WhyAnswer { level, question } => Step::WhyEvidence {
                level,
                question,
                answer: text.to_string(),
            },
            Step::WhyEvidence {
                level,
                question,
                answer,
            } => {
                let evidence = (!skip(text)).then(|| text.to_string());
                match self
                    .tool(engine, "record_why", json!({"level": level, "question": question, "answer": answer, "evidence": evidence}))
                    .await
                {
                    Ok(v) => {
                        let mark = if v["assumption"] == true { " (as an assumption: no evidence)" } else { "" };
                        lines.push(format!("Recorded why {level} of {MAX_LEVEL}{mark}."));
                        self.last = answer;
                        if level >= MAX_LEVEL {
                            lines.push("That was the fifth why.".into());
                            Step::RootStatement
                        } else {
                            Step::IsRoot { level }
                        }
                    }
                    Err(e) => {
                        lines.push(format!("Could not record it: {e}"));
                        Step::WhyAnswer { level, question }
                    }
                }
            }
            Step::IsRoot { level } if is_yes(text) => {
                let _ = level;
                Step::RootStatement
            }
            Step::IsRoot { level } => Step::WhyAnswer {
                level: level + 1,
                question: why_question(&self.last),
            },
            Step::RootStatement => {
                let statement = if text.is_empty() {
                    self.last.clone()
                } else {
                    text.to_string()
                };
                Step::Confidence { statement }
            }
            Step::Confidence { statement } => {
                let confidence = if text.is_empty() {
                    Some(DEFAULT_CONFIDENCE)
                } else {
                    text.trim_end_matches('%')
                        .trim()
                        .parse::<f64>()
                        .ok()
                        .map(|c| if c > 1.0 { c / 100.0 } else { c })
                };
                match confidence {
                    None => {
                        lines.push(format!(
                            "`{text}` is not a number; give a value from 0 to 1, such as 0.8."
                        ));
                        Step::Confidence { statement }
                    }
                    Some(c) => self.record_root(engine, &statement, c, &mut lines).await?,
                }
            }
            Step::ImmediateAction => {
                self.optional_note(engine, NoteKind::ActionImmediate, text)
                    .await?;
                Step::LongTermAction
            }
            Step::LongTermAction => {
                self.optional_note(engine, NoteKind::ActionLongTerm, text)
                    .await?;
                Step::Lesson
            }
            Step::Lesson => {
                self.optional_note(engine, NoteKind::Lesson, text).await?;
                let saved = crate::drafting::draft(
                    engine,
                    &self.issue,
                    DocType::Rca,
                    false,
                    &CancellationToken::new(),
                )
                .await?;
                lines.push(format!(
                    "The RCA is updated ({} sections). /rca shows it; /export rca md|html|pdf writes it to a file.",
                    saved.section_count
                ));
                Step::Done
            }
            Step::Done => Step::Done,
        };
        self.step = next;
        let done = self.is_done();
        if !done {
            lines.push(self.question());
        }
        Ok(GuidedReply { lines, done })
    }

    async fn record_root(
        &mut self,
        engine: &Engine,
        statement: &str,
        confidence: f64,
        lines: &mut Vec<String>,
    ) -> Result<Step, EngineError> {
        let id = self.issue.clone();
        let levels: Vec<i64> = engine
            .store()
            .read(move |c| {
                Ok(steps::list_for_issue(c, &id)?
                    .iter()
                    .map(|s| s.step_order)
                    .collect())
            })
            .await?;
        match self
            .tool(
                engine,
                "record_root_cause",
                json!({"root_cause": statement, "confidence": confidence, "why_levels": levels}),
            )
            .await
        {
            Ok(_) => {
                let saved = crate::drafting::draft(
                    engine,
                    &self.issue,
                    DocType::Rca,
                    false,
                    &CancellationToken::new(),
                )
                .await?;
                lines.push(format!(
                    "Root cause recorded. The RCA is drafted ({} sections).",
                    saved.section_count
                ));
                Ok(Step::ImmediateAction)
            }
            Err(e) => {
                lines.push(format!("Could not record the root cause: {e}"));
                Ok(Step::Confidence {
                    statement: statement.to_string(),
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn questions_are_built_from_the_previous_answer() {
        assert_eq!(
            why_question("The pool ran out of memory."),
            "Why did this happen: The pool ran out of memory?"
        );
        assert_eq!(
            why_question("line one\nline two"),
            "Why did this happen: line one?"
        );
        assert!(is_yes("Yes") && is_yes(" y ") && !is_yes("no"));
        assert!(skip("") && skip("Unknown") && !skip("14:02"));
    }
}
