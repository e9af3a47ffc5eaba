-- Facts about the database itself, such as whether the demo was seeded.
CREATE TABLE meta (
    key TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);
