// The SQL registry: the queries of sql/queries/ compiled into the library (see
// cmake/embed_sql.cmake), and the one renderer of delta's SQL files, migrations and
// queries alike.
//
// Placeholders are SQL block comments, so that every file is valid SQL as it stands (psql
// runs it against its search_path, EXPLAIN shows its plan):
//
//   /* schema */                the schema, quoted, and a dot, written right before an
//                               object's name: FROM /* schema */delta_job renders to
//                               FROM "myschema".delta_job
//   /* schema_name */           the schema, quoted, where a bare name belongs
//                               (CREATE SCHEMA)
//   /* if NAME */ ... /* end */ an optional part, kept when the caller turns the
//                               condition NAME on and dropped otherwise (blocks nest)
//   /* include NAME */          the query file NAME ("admin/_resource_filter"), rendered
//                               in place with the same schema and conditions: a part
//                               several statements share. A file whose name starts with
//                               an underscore is such a fragment, not a statement.
//
// Block comments are reserved for placeholders: prose goes in -- comments, and a
// placeholder after a -- on its line is an error rather than silently rendered. Inside a
// string literal a placeholder is rendered all the same (nextval('/* schema */seq'),
// to_regnamespace('/* schema_name */')), but there the file no longer runs unrendered.
#pragma once

#include <initializer_list>
#include <span>
#include <string>
#include <string_view>

namespace delta::schema {

// One file sql/queries/<store>/<name>.sql.
struct Query {
  std::string_view name;  // "<store>/<name>", e.g. "resources/claim"
  std::string_view sql;   // the file as written, placeholders unrendered
};

// Every embedded query, sorted by name, names unique.
std::span<const Query> embedded_queries();

// The text of the query `name` ("resources/claim"); throws Error when there is none.
std::string_view query(std::string_view name);

// Whether the optional parts /* if name */ ... /* end */ of a file are kept.
struct Condition {
  std::string_view name;
  bool on;
};

// `sql` with every placeholder replaced for `schema` and its optional parts kept or
// dropped as `conditions` say, in one pass. A dropped part leaves its line breaks behind,
// and so does a placeholder written over several lines, so that the line numbers of a
// server error still match the file. Throws Error naming what is wrong: an unknown
// placeholder, a condition `conditions` does not set, an unbalanced /* if */ or
// /* end */, a placeholder inside a -- comment, an unclosed block comment.
std::string render(std::string_view sql, std::string_view schema,
                   std::initializer_list<Condition> conditions = {});

// render(query(name), ...), naming the query's file in any error.
std::string render_query(std::string_view name, std::string_view schema,
                         std::initializer_list<Condition> conditions = {});
// The same with conditions chosen at run time.
std::string render_query(std::string_view name, std::string_view schema,
                         std::span<const Condition> conditions);

}  // namespace delta::schema
