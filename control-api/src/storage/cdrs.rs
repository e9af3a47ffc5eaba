//! The `cdrs` queries (being moved here from the HTTP handlers).
