//! The `agents` queries (being moved here from the HTTP handlers).
