// Statement facts from the parse tree: what each statement does and the table lock it takes
// (cross-checked against ../shared/reference/pg15-locks.md). libpg_query omits zero/false fields.
#include "sql/facts.hpp"

#include <set>

namespace phasegate::sql {

using json = nlohmann::json;

const char* lock_name(Lock l) {
  switch (l) {
    case Lock::none: return "none";
    case Lock::access_share: return "ACCESS SHARE";
    case Lock::row_share: return "ROW SHARE";
    case Lock::row_exclusive: return "ROW EXCLUSIVE";
    case Lock::share_update_exclusive: return "SHARE UPDATE EXCLUSIVE";
    case Lock::share: return "SHARE";
    case Lock::share_row_exclusive: return "SHARE ROW EXCLUSIVE";
    case Lock::exclusive: return "EXCLUSIVE";
    case Lock::access_exclusive: return "ACCESS EXCLUSIVE";
  }
  return "?";
}

const char* lock_blocks(Lock l) {
  switch (l) {
    case Lock::access_exclusive: return "reads and writes";
    case Lock::exclusive: return "writes and SELECT ... FOR UPDATE";
    case Lock::share_row_exclusive:
    case Lock::share: return "writes";
    case Lock::share_update_exclusive: return "other DDL and VACUUM";
    case Lock::row_exclusive: return "DDL on the table; its row locks block writers of the same rows";
    default: return "nothing of the application";
  }
}

namespace {

bool flag(const json& j, const char* key) { return j.contains(key) && j[key].is_boolean() && j[key].get<bool>(); }
std::string str(const json& j, const char* key) { return j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : ""; }

void set_relation(Action& a, const json& body, const char* key = "relation") {
  if (!body.contains(key)) return;
  a.schema = str(body[key], "schemaname");
  a.table = str(body[key], "relname");
}

// The last name part of a TypeName, with its modifiers: "int4", "varchar(5)".
std::string type_name(const json& tn) {
  std::string name;
  if (tn.contains("names"))
    for (const auto& n : tn["names"])
      if (n.contains("String")) name = str(n["String"], "sval");
  if (tn.contains("typmods")) {
    std::string mods;
    for (const auto& m : tn["typmods"])
      if (m.contains("A_Const") && m["A_Const"].contains("ival"))
        mods += (mods.empty() ? "" : ",") + std::to_string(m["A_Const"]["ival"].value("ival", 0));
    if (!mods.empty()) name += "(" + mods + ")";
  }
  return name;
}

const std::set<std::string>& volatile_functions() {
  static const std::set<std::string> names = {"random", "clock_timestamp", "gen_random_uuid", "uuid_generate_v1",
                                              "uuid_generate_v1mc", "uuid_generate_v4", "nextval", "timeofday",
                                              "txid_current", "setseed", "random_normal", "gen_random_bytes"};
  return names;
}

// The first volatile function called anywhere inside an expression.
std::string find_volatile(const json& expr) {
  if (expr.is_object()) {
    if (expr.contains("FuncCall")) {
      const auto& f = expr["FuncCall"];
      std::string name;
      if (f.contains("funcname"))
        for (const auto& n : f["funcname"])
          if (n.contains("String")) name = str(n["String"], "sval");
      if (volatile_functions().count(name)) return name;
    }
    for (const auto& [k, v] : expr.items())
      if (auto found = find_volatile(v); !found.empty()) return found;
  } else if (expr.is_array()) {
    for (const auto& v : expr)
      if (auto found = find_volatile(v); !found.empty()) return found;
  }
  return "";
}

void collect_functions(const json& expr, std::vector<std::string>& out) {
  if (expr.is_object()) {
    if (expr.contains("FuncCall") && expr["FuncCall"].contains("funcname")) {
      std::string name;
      for (const auto& n : expr["FuncCall"]["funcname"])
        if (n.contains("String")) name = str(n["String"], "sval");
      if (!name.empty()) out.push_back(name);
    }
    for (const auto& [k, v] : expr.items()) collect_functions(v, out);
  } else if (expr.is_array()) {
    for (const auto& v : expr) collect_functions(v, out);
  }
}

// CHECK (col IS NOT NULL) -> "col"
std::string not_null_check(const json& constraint) {
  if (!constraint.contains("raw_expr") || !constraint["raw_expr"].contains("NullTest")) return "";
  const auto& nt = constraint["raw_expr"]["NullTest"];
  if (str(nt, "nulltesttype") != "IS_NOT_NULL" || !nt.contains("arg") || !nt["arg"].contains("ColumnRef")) return "";
  std::string col;
  for (const auto& f : nt["arg"]["ColumnRef"]["fields"])
    if (f.contains("String")) col = str(f["String"], "sval");
  return col;
}

std::string constraint_kind(const std::string& contype) {
  if (contype == "CONSTR_FOREIGN") return "foreign";
  if (contype == "CONSTR_CHECK") return "check";
  if (contype == "CONSTR_UNIQUE") return "unique";
  if (contype == "CONSTR_PRIMARY") return "primary";
  if (contype == "CONSTR_EXCLUSION") return "exclusion";
  return "";
}

void describe_column_def(Action& a, const json& def) {
  a.column = str(def, "colname");
  if (def.contains("typeName")) {
    a.type_name = type_name(def["typeName"]);
    a.serial = a.type_name == "serial" || a.type_name == "bigserial" || a.type_name == "smallserial" ||
               a.type_name == "serial4" || a.type_name == "serial8" || a.type_name == "serial2";
  }
  if (!def.contains("constraints")) return;
  for (const auto& c : def["constraints"]) {
    if (!c.contains("Constraint")) continue;
    const auto& con = c["Constraint"];
    std::string t = str(con, "contype");
    if (t == "CONSTR_DEFAULT") {
      a.has_default = true;
      a.volatile_function = find_volatile(con);
      collect_functions(con, a.default_functions);
      a.volatile_default = !a.volatile_function.empty();
    } else if (t == "CONSTR_NOTNULL") {
      a.not_null = true;
    } else if (t == "CONSTR_IDENTITY") {
      a.identity = true;
    } else if (t == "CONSTR_GENERATED") {
      a.generated_stored = true;
    } else if (t == "CONSTR_PRIMARY") {
      a.not_null = true;
      a.inline_unique = "primary";
    } else if (t == "CONSTR_UNIQUE") {
      a.inline_unique = "unique";
    }
  }
}

Action alter_table_cmd(const json& body, const json& cmd) {
  Action a;
  set_relation(a, body);
  a.lock = Lock::access_exclusive;
  std::string sub = str(cmd, "subtype");
  a.column = str(cmd, "name");
  const json def = cmd.contains("def") ? cmd["def"] : json::object();
  if (sub == "AT_AddColumn") {
    a.kind = "add_column";
    if (def.contains("ColumnDef")) describe_column_def(a, def["ColumnDef"]);
  } else if (sub == "AT_AlterColumnType") {
    a.kind = "alter_type";
    if (def.contains("ColumnDef") && def["ColumnDef"].contains("typeName")) a.type_name = type_name(def["ColumnDef"]["typeName"]);
  } else if (sub == "AT_SetNotNull") {
    a.kind = "set_not_null";
  } else if (sub == "AT_DropNotNull") {
    a.kind = "drop_not_null";
  } else if (sub == "AT_AddConstraint" && def.contains("Constraint")) {
    const auto& con = def["Constraint"];
    a.kind = "add_constraint";
    a.constraint = constraint_kind(str(con, "contype"));
    a.name = str(con, "conname");
    a.not_valid = flag(con, "skip_validation");
    a.using_index = !str(con, "indexname").empty();
    a.not_null_check_column = a.constraint == "check" ? not_null_check(con) : "";
    if (a.constraint == "foreign") a.lock = Lock::share_row_exclusive;
  } else if (sub == "AT_ValidateConstraint") {
    a.kind = "validate_constraint";
    a.name = a.column;
    a.column.clear();
    a.lock = Lock::share_update_exclusive;
  } else if (sub == "AT_DropColumn") {
    a.kind = "drop_column";
  } else if (sub == "AT_DropConstraint") {
    a.kind = "drop_constraint";
    a.name = a.column;
    a.column.clear();
  } else if (sub == "AT_SetLogged" || sub == "AT_SetUnLogged") {
    a.kind = "set_logged";
  } else if (sub == "AT_SetStatistics" || sub == "AT_SetRelOptions" || sub == "AT_ResetRelOptions") {
    a.kind = "other";
    a.lock = Lock::share_update_exclusive;
  } else if (sub == "AT_EnableTrig" || sub == "AT_DisableTrig" || sub == "AT_EnableTrigAll" || sub == "AT_DisableTrigAll") {
    a.kind = "other";
    a.lock = Lock::share_row_exclusive;
  } else {
    a.kind = "other";
  }
  return a;
}

std::vector<Action> range_vars(const char* kind, const json& list, Lock lock) {
  std::vector<Action> out;
  for (const auto& item : list) {
    const json& rv = item.contains("RangeVar") ? item["RangeVar"]
                     : item.contains("VacuumRelation") && item["VacuumRelation"].contains("relation")
                         ? item["VacuumRelation"]["relation"]
                         : json::object();
    Action a;
    a.kind = kind;
    a.schema = str(rv, "schemaname");
    a.table = str(rv, "relname");
    a.lock = lock;
    out.push_back(a);
  }
  return out;
}

// DROP ... objects are lists of String name parts.
std::vector<Action> drop_objects(const json& body) {
  std::string type = str(body, "removeType");
  std::vector<Action> out;
  if (!body.contains("objects")) return out;
  for (const auto& obj : body["objects"]) {
    Action a;
    std::vector<std::string> parts;
    if (obj.contains("List"))
      for (const auto& p : obj["List"]["items"])
        if (p.contains("String")) parts.push_back(str(p["String"], "sval"));
    std::string last = parts.empty() ? "" : parts.back();
    std::string schema = parts.size() > 1 ? parts[parts.size() - 2] : "";
    a.concurrently = flag(body, "concurrent");
    if (type == "OBJECT_TABLE") {
      a.kind = "drop_table";
      a.table = last;
      a.schema = schema;
      a.lock = Lock::access_exclusive;
    } else if (type == "OBJECT_INDEX") {
      a.kind = "drop_index";
      a.name = last;
      a.schema = schema;
      a.lock = a.concurrently ? Lock::share_update_exclusive : Lock::access_exclusive;
    } else {
      continue;
    }
    out.push_back(a);
  }
  return out;
}

}  // namespace

std::vector<Action> derive_actions(const std::string& node, const json& body) {
  std::vector<Action> out;
  if (node == "AlterTableStmt" && str(body, "objtype") == "OBJECT_TABLE" && body.contains("cmds")) {
    for (const auto& c : body["cmds"])
      if (c.contains("AlterTableCmd")) out.push_back(alter_table_cmd(body, c["AlterTableCmd"]));
  } else if (node == "RenameStmt") {
    std::string t = str(body, "renameType");
    Action a;
    set_relation(a, body);
    a.lock = Lock::access_exclusive;
    if (t == "OBJECT_COLUMN") {
      a.kind = "rename_column";
      a.column = str(body, "subname");
      out.push_back(a);
    } else if (t == "OBJECT_TABLE") {
      a.kind = "rename_table";
      out.push_back(a);
    }
  } else if (node == "IndexStmt") {
    Action a;
    a.kind = "create_index";
    set_relation(a, body);
    a.name = str(body, "idxname");
    a.concurrently = flag(body, "concurrent");
    a.lock = a.concurrently ? Lock::share_update_exclusive : Lock::share;
    out.push_back(a);
  } else if (node == "DropStmt") {
    out = drop_objects(body);
  } else if (node == "ReindexStmt") {
    Action a;
    a.kind = "reindex";
    set_relation(a, body);
    a.name = str(body, "name");
    if (body.contains("params"))
      for (const auto& p : body["params"])
        if (p.contains("DefElem") && str(p["DefElem"], "defname") == "concurrently") a.concurrently = true;
    a.lock = a.concurrently ? Lock::share_update_exclusive : Lock::share;
    out.push_back(a);
  } else if (node == "VacuumStmt" && body.contains("options")) {
    for (const auto& o : body["options"])
      if (o.contains("DefElem") && str(o["DefElem"], "defname") == "full" && body.contains("rels"))
        out = range_vars("vacuum_full", body["rels"], Lock::access_exclusive);
  } else if (node == "ClusterStmt") {
    Action a;
    a.kind = "cluster";
    set_relation(a, body);
    a.lock = Lock::access_exclusive;
    out.push_back(a);
  } else if (node == "TruncateStmt" && body.contains("relations")) {
    out = range_vars("truncate", body["relations"], Lock::access_exclusive);
  } else if (node == "UpdateStmt" || node == "DeleteStmt") {
    Action a;
    a.kind = node == "UpdateStmt" ? "update" : "delete";
    set_relation(a, body);
    a.lock = Lock::row_exclusive;
    out.push_back(a);
  } else if (node == "CreateStmt") {
    Action a;
    a.kind = "create_table";
    set_relation(a, body);
    out.push_back(a);
  }
  return out;
}

}  // namespace phasegate::sql
