-- The application's tables before phasegate touches anything (loaded by scripts/demo.sh).
CREATE TABLE authors (id bigint PRIMARY KEY, name text NOT NULL);
CREATE TABLE books (
  id bigint PRIMARY KEY,
  title text NOT NULL,
  author_id bigint,
  lexile int,
  old_level text
);
INSERT INTO authors SELECT g, 'author ' || g FROM generate_series(1, 100) g;
INSERT INTO books SELECT g, 'book ' || g, 1 + g % 100, 200 + g % 1200, 'L' || (g % 9) FROM generate_series(1, 20000) g;
