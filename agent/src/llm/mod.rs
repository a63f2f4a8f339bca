//! OpenAI-compatible chat-completions client.
