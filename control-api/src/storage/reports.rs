//! The `reports` queries (being moved here from the HTTP handlers).
