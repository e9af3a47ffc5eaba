//! The `mailboxes` queries (being moved here from the HTTP handlers).
