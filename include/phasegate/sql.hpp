#pragma once
// A thin wrapper over libpg_query (the PostgreSQL 15 parser): split, parse, scan.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace phasegate::sql {

struct SyntaxError {
  size_t offset = 0;  // byte offset into the text handed to the parser
  std::string message;
};

// Table-level lock modes, weakest to strongest.
enum class Lock { none, access_share, row_share, row_exclusive, share_update_exclusive, share, share_row_exclusive,
                  exclusive, access_exclusive };
const char* lock_name(Lock l);    // "ACCESS EXCLUSIVE"
const char* lock_blocks(Lock l);  // what it blocks, for humans: "reads and writes"

// Whether an action gives the table a new relfilenode (a rewrite, or TRUNCATE's new empty file).
// `maybe`: depends on the old type, which only the catalog knows (varchar/text changes).
enum class Rewrite { no, maybe, yes };

// One thing a statement does to one relation (an ALTER TABLE yields one action per subcommand).
struct Action {
  std::string kind;  // add_column, alter_type, set_not_null, drop_not_null, add_constraint, validate_constraint,
                     // drop_column, drop_constraint, rename_column, rename_table, create_table, drop_table,
                     // create_index, drop_index, reindex, vacuum_full, cluster, set_logged, truncate, update, delete,
                     // reference (the referenced table of a foreign key), detach_partition, partition (the partition
                     // attached or detached), set_tablespace, create_trigger, drop_trigger, enable_trigger, lock_table,
                     // refresh_matview, alter_domain_constraint, create_domain_check, drop_database, drop_other,
                     // rename_schema, rename_enum_value, add_enum_value, create_column (a column of CREATE TABLE:
                     // column, type_name, serial, identity, primary_key, foreign_key; no lock of its own), other
  std::string schema, table, column, name;  // name: index or constraint
  std::string constraint;                   // foreign | check | unique | primary | exclusion
  std::string type_name;                    // add_column / alter_type: the new type, e.g. "int8", "varchar(5)"
  Lock lock = Lock::none;
  Rewrite rewrite = Rewrite::no;
  bool not_valid = false, has_default = false, volatile_default = false, not_null = false;
  bool generated_stored = false, identity = false, serial = false, using_index = false, concurrently = false;
  std::vector<std::string> columns;  // create_index: the indexed columns (expressions: ""); add_constraint
                                     // foreign: the referencing columns
  bool has_where = false;            // update / delete
  bool positioned = false;     // add_enum_value: ADD VALUE ... BEFORE / AFTER
  bool cascade = false;        // DROP ... CASCADE (also ALTER TABLE DROP COLUMN / CONSTRAINT ... CASCADE)
  bool inline_on_column = false;  // add_constraint declared on the column of an ADD COLUMN (REFERENCES, CHECK, UNIQUE)
  bool primary_key = false, foreign_key = false;  // add_column / create_column: part of a PRIMARY KEY / FOREIGN KEY
                                                  // declared in the same statement (on the column or the table)
  std::string volatile_function;    // the built-in volatile function in the default
  std::string unknown_function;     // a function of the default that is neither a known volatile nor a known
                                    // stable/immutable built-in: assumed volatile unless lint --db says otherwise
  std::vector<std::string> default_functions;  // every function the default calls (lint --db asks pg_proc)
  std::string not_null_check_column;  // CHECK (col IS NOT NULL)
};

struct Statement {
  std::string text;          // the statement without leading comments/whitespace or trailing ';'
  size_t offset = 0;         // byte offset of text in the script
  std::string node;          // parse-tree node type, e.g. "AlterTableStmt", "IndexStmt"
  bool concurrently = false;
  bool transaction_control = false;  // BEGIN / COMMIT / ROLLBACK / SAVEPOINT ...
  bool allowed_in_transaction = true;
  std::string index_schema, index_name;  // CREATE INDEX [CONCURRENTLY] name
  // What running the statement a second time fails on (or, for an unnamed index, duplicates), where PostgreSQL 15
  // has an IF [NOT] EXISTS / OR REPLACE form that was not used: "CREATE TABLE", "DROP INDEX", "ADD COLUMN" ...
  std::vector<std::string> not_idempotent;
  std::vector<Action> actions;
};

struct Script {
  std::vector<Statement> statements;
  bool allowed_in_transaction() const;
};

// Parses a script of one or more statements. On a syntax error returns it with its offset.
struct ParseOutcome {
  std::optional<Script> script;
  std::optional<SyntaxError> error;
};
ParseOutcome parse(std::string_view text);

// One scanner token: its byte range in the text and the kinds callers ask about.
struct Token {
  enum class Kind { comment, param, semicolon, open_paren, close_paren, identifier, other };
  size_t start = 0, end = 0;
  Kind kind = Kind::other;
  bool keyword = false;
};
// The PostgreSQL scanner's tokens, comments included. nullopt (and *error) on text that does not scan
// (an unterminated quote or comment).
std::optional<std::vector<Token>> scan(std::string_view text, SyntaxError* error = nullptr);

// The canonical token stream: comments and whitespace dropped, keywords and unquoted identifiers
// lowercased, trailing semicolons dropped, tokens joined by a single space.
std::optional<std::string> canonical_tokens(std::string_view text, SyntaxError* error = nullptr);
// SHA-256 hex of canonical_tokens (of the raw text when it does not scan).
std::string checksum(std::string_view text);

// Wraps an identifier in double quotes when it needs them.
std::string quote_ident(std::string_view ident);

}  // namespace phasegate::sql
