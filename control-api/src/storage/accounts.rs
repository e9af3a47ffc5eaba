//! The `accounts` queries (being moved here from the HTTP handlers).
