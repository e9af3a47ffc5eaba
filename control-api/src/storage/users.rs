//! The `users` queries (being moved here from the HTTP handlers).
