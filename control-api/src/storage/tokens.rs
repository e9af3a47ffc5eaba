//! The `tokens` queries (being moved here from the HTTP handlers).
