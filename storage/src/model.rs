//! The closed vocabularies of the data model, stored as TEXT.
//!
//! The seed schema leaves most of these as free TEXT columns (only roles and
//! services carry a CHECK); the types here are where the rest is enforced, so
//! a typo cannot reach the database and a model's bad argument gets a precise
//! message listing what is allowed.

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};
use serde::{Deserialize, Serialize};

macro_rules! text_enum {
    ($(#[$doc:meta])* $name:ident, $what:literal { $($(#[$vdoc:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema)]
        pub enum $name {
            $($(#[$vdoc])* #[serde(rename = $text)] $variant),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stored text.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            /// The allowed values, for error messages.
            pub fn allowed() -> String {
                let names: Vec<&str> = Self::ALL.iter().map(|v| v.as_str()).collect();
                names.join(", ")
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                let lower = s.trim().to_ascii_lowercase();
                match lower.as_str() {
                    $($text => Ok($name::$variant),)+
                    _ => Err(format!("{} must be one of {}, got `{}`", $what, Self::allowed(), s)),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ToSql for $name {
            fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
                Ok(ToSqlOutput::from(self.as_str()))
            }
        }

        impl FromSql for $name {
            fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
                let s = value.as_str()?;
                s.parse().map_err(|e: String| FromSqlError::Other(e.into()))
            }
        }
    };
}

text_enum!(
    /// How bad an incident is (`issues.severity`).
    Severity, "severity" {
        Critical => "critical",
        High => "high",
        Medium => "medium",
        Low => "low",
    }
);

text_enum!(
    /// Where an incident stands (`issues.status`).
    Status, "status" {
        Open => "open",
        Investigating => "investigating",
        Resolved => "resolved",
        Closed => "closed",
    }
);

impl Status {
    /// Resolved and closed incidents carry a `resolved_at`.
    pub fn is_finished(self) -> bool {
        matches!(self, Status::Resolved | Status::Closed)
    }
}

text_enum!(
    /// Who wrote a message (`ai_messages.role`).
    Role, "role" {
        System => "system",
        User => "user",
        Assistant => "assistant",
        /// The result of a tool call (tftsr's migration 015).
        Tool => "tool",
    }
);

text_enum!(
    /// The kinds of document (`documents.doc_type`).
    DocType, "doc_type" {
        Rca => "rca",
        Postmortem => "postmortem",
    }
);

text_enum!(
    /// External services with stored credentials (`credentials.service`).
    Service, "service" {
        Confluence => "confluence",
        ServiceNow => "servicenow",
        AzureDevOps => "azuredevops",
    }
);

text_enum!(
    /// The seed's seven timeline event types (`timeline_events.event_type`).
    TimelineEventType, "event_type" {
        /// Incident response begins; metadata `{severity, category}`.
        TriageStarted => "triage_started",
        /// A log was attached; metadata `{file_name, file_size}`.
        LogUploaded => "log_uploaded",
        /// A 5-Whys level was recorded; metadata `{from_level, to_level, question}`.
        WhyLevelAdvanced => "why_level_advanced",
        /// Root cause determined; metadata `{root_cause, confidence}`.
        RootCauseIdentified => "root_cause_identified",
        /// RCA drafted; metadata `{doc_id, section_count}`.
        RcaGenerated => "rca_generated",
        /// Postmortem drafted; metadata `{doc_id, timeline_events_count}`.
        PostmortemGenerated => "postmortem_generated",
        /// A document was exported; metadata `{format, file_path}`.
        DocumentExported => "document_exported",
    }
);

text_enum!(
    /// What a note about an incident records (`incident_notes.kind`).
    NoteKind, "kind" {
        /// What happened, as a user or a monitor sees it.
        Symptom => "symptom",
        /// When it started.
        Started => "started",
        /// Who or what is affected, and how badly.
        Impact => "impact",
        /// What changed just before.
        Change => "change",
        /// What was done to restore service.
        ActionImmediate => "action_immediate",
        /// What will prevent a recurrence.
        ActionLongTerm => "action_long_term",
        /// What the team learned.
        Lesson => "lesson",
    }
);

impl TimelineEventType {
    /// The metadata fields the seed defines for this type; every event of
    /// the type carries them.
    pub fn metadata_fields(self) -> &'static [&'static str] {
        match self {
            TimelineEventType::TriageStarted => &["severity", "category"],
            TimelineEventType::LogUploaded => &["file_name", "file_size"],
            TimelineEventType::WhyLevelAdvanced => &["from_level", "to_level", "question"],
            TimelineEventType::RootCauseIdentified => &["root_cause", "confidence"],
            TimelineEventType::RcaGenerated => &["doc_id", "section_count"],
            TimelineEventType::PostmortemGenerated => &["doc_id", "timeline_events_count"],
            TimelineEventType::DocumentExported => &["format", "file_path"],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_print() {
        assert_eq!("HIGH".parse::<Severity>(), Ok(Severity::High));
        assert_eq!(
            "urgent".parse::<Severity>(),
            Err("severity must be one of critical, high, medium, low, got `urgent`".to_string())
        );
        for t in TimelineEventType::ALL {
            assert_eq!(t.as_str().parse::<TimelineEventType>(), Ok(*t));
        }
        assert_eq!(
            serde_json::to_string(&Status::Investigating).unwrap(),
            "\"investigating\""
        );
    }
}
