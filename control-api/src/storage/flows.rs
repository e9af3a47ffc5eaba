//! The `flows` queries (being moved here from the HTTP handlers).
