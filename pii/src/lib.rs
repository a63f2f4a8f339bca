//! PII and secret detection and redaction (not built yet).
