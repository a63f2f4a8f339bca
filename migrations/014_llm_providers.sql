-- Stored LLM provider profiles. The API key is encrypted like credentials:
-- base64(nonce || ciphertext || tag), AES-256-GCM.
CREATE TABLE llm_providers (
    id                TEXT PRIMARY KEY,
    name              TEXT NOT NULL UNIQUE,
    base_url          TEXT NOT NULL,
    model             TEXT NOT NULL,
    context_window    INTEGER CHECK(context_window IS NULL OR context_window > 0),
    encrypted_api_key TEXT,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL
);
