//! The `holidays` queries (being moved here from the HTTP handlers).
