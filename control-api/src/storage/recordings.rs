//! The `recordings` queries (being moved here from the HTTP handlers).
