//! Embedded prompts and system-message assembly.
