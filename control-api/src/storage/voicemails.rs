//! The `voicemails` queries (being moved here from the HTTP handlers).
