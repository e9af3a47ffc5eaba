//! Rebuilds the binary when a migration is added or changed: the schema is
//! embedded by `sqlx::migrate!`, which cargo does not otherwise watch.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
