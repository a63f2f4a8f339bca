//! Typed ids. Every primary key is a UUID v7 (time-sortable) stored as TEXT;
//! newtypes keep an `IssueId` from being passed where a `LogFileId` belongs.

use rusqlite::types::{FromSql, FromSqlResult, ToSql, ToSqlOutput, ValueRef};
use serde::{Deserialize, Serialize};

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// A fresh UUID v7 id.
            pub fn new() -> Self {
                Self(uuid::Uuid::now_v7().to_string())
            }
            /// Wraps an id read from outside (a tool argument, a CLI flag).
            pub fn from_string(s: impl Into<String>) -> Self {
                Self(s.into())
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl ToSql for $name {
            fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
                Ok(ToSqlOutput::from(self.0.as_str()))
            }
        }

        impl FromSql for $name {
            fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
                String::column_result(value).map(Self)
            }
        }
    };
}

id_type!(
    /// An incident (`issues.id`).
    IssueId
);
id_type!(
    /// An attached log file (`log_files.id`).
    LogFileId
);
id_type!(
    /// A detected PII span of a log file (`pii_spans.id`).
    PiiSpanId
);
id_type!(
    /// A conversation with a model about one incident (`ai_conversations.id`).
    ConversationId
);
id_type!(
    /// One message of a conversation (`ai_messages.id`).
    MessageId
);
id_type!(
    /// One level of a 5-Whys (`resolution_steps.id`).
    StepId
);
id_type!(
    /// An RCA or postmortem (`documents.id`).
    DocumentId
);
id_type!(
    /// An audit log row (`audit_log.id`).
    AuditId
);
id_type!(
    /// A timeline event (`timeline_events.id`).
    TimelineEventId
);
id_type!(
    /// A stored integration credential (`credentials.id`).
    CredentialId
);
id_type!(
    /// An integration configuration (`integration_config.id`).
    IntegrationId
);
id_type!(
    /// An image attachment (`image_attachments.id`).
    ImageId
);
id_type!(
    /// A stored LLM provider profile (`llm_providers.id`).
    ProviderId
);
