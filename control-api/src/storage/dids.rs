//! The `dids` queries (being moved here from the HTTP handlers).
