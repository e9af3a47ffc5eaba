//! The `phones` queries (being moved here from the HTTP handlers).
