//! The `prompts` queries (being moved here from the HTTP handlers).
