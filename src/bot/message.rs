//! The platform-neutral shape of what arrives from a chat platform: a
//! verified, parsed message and the thread it belongs to. Adapters build
//! these; the bot's core consumes them. Kept free of other dependencies so
//! the fuzz targets (`fuzz/`) compile the real parser with these real types.

/// A thread on a chat platform: the channel and the id of its first message.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ThreadKey {
    pub channel: String,
    pub thread: String,
}

/// A file shared with a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedFile {
    pub name: String,
    /// Size the platform reports, when it does.
    pub size: Option<u64>,
    /// Where to download it (with the bot's credentials).
    pub url: String,
}

/// One message for the bot, already verified and parsed by the adapter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incoming {
    /// Keys that identify this delivery durably (see `bot::core`'s docs).
    pub dedup_keys: Vec<String>,
    /// The thread it belongs to (its own id when it starts one).
    pub thread: ThreadKey,
    /// The platform's user id of the author.
    pub user: String,
    /// The text, with the mention of the bot taken out.
    pub text: String,
    /// Addressed to the bot (a mention, or a direct message).
    pub mentioned: bool,
    pub files: Vec<SharedFile>,
}
