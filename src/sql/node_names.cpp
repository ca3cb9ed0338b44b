// PostgreSQL 15's statement node tags by name: Statement::node ("AlterTableStmt"). The list is nodes.h's
// "TAGS FOR STATEMENT NODES" section; the enum values come from the server headers, so the table follows them.
#include "sql/pg_nodes.hpp"

namespace phasegate::sql {

namespace {
struct TagName {
  NodeTag tag;
  const char* name;
};
#define PHASEGATE_TAG(n) {T_##n, #n}
constexpr TagName kStatementTags[] = {
    PHASEGATE_TAG(RawStmt), PHASEGATE_TAG(Query), PHASEGATE_TAG(PlannedStmt), PHASEGATE_TAG(InsertStmt),
    PHASEGATE_TAG(DeleteStmt), PHASEGATE_TAG(UpdateStmt), PHASEGATE_TAG(MergeStmt), PHASEGATE_TAG(SelectStmt),
    PHASEGATE_TAG(ReturnStmt), PHASEGATE_TAG(PLAssignStmt), PHASEGATE_TAG(AlterTableStmt), PHASEGATE_TAG(AlterTableCmd),
    PHASEGATE_TAG(AlterDomainStmt), PHASEGATE_TAG(SetOperationStmt), PHASEGATE_TAG(GrantStmt), PHASEGATE_TAG(GrantRoleStmt),
    PHASEGATE_TAG(AlterDefaultPrivilegesStmt), PHASEGATE_TAG(ClosePortalStmt), PHASEGATE_TAG(ClusterStmt),
    PHASEGATE_TAG(CopyStmt), PHASEGATE_TAG(CreateStmt), PHASEGATE_TAG(DefineStmt), PHASEGATE_TAG(DropStmt),
    PHASEGATE_TAG(TruncateStmt), PHASEGATE_TAG(CommentStmt), PHASEGATE_TAG(FetchStmt), PHASEGATE_TAG(IndexStmt),
    PHASEGATE_TAG(CreateFunctionStmt), PHASEGATE_TAG(AlterFunctionStmt), PHASEGATE_TAG(DoStmt), PHASEGATE_TAG(RenameStmt),
    PHASEGATE_TAG(RuleStmt), PHASEGATE_TAG(NotifyStmt), PHASEGATE_TAG(ListenStmt), PHASEGATE_TAG(UnlistenStmt),
    PHASEGATE_TAG(TransactionStmt), PHASEGATE_TAG(ViewStmt), PHASEGATE_TAG(LoadStmt), PHASEGATE_TAG(CreateDomainStmt),
    PHASEGATE_TAG(CreatedbStmt), PHASEGATE_TAG(DropdbStmt), PHASEGATE_TAG(VacuumStmt), PHASEGATE_TAG(ExplainStmt),
    PHASEGATE_TAG(CreateTableAsStmt), PHASEGATE_TAG(CreateSeqStmt), PHASEGATE_TAG(AlterSeqStmt), PHASEGATE_TAG(VariableSetStmt),
    PHASEGATE_TAG(VariableShowStmt), PHASEGATE_TAG(DiscardStmt), PHASEGATE_TAG(CreateTrigStmt), PHASEGATE_TAG(CreatePLangStmt),
    PHASEGATE_TAG(CreateRoleStmt), PHASEGATE_TAG(AlterRoleStmt), PHASEGATE_TAG(DropRoleStmt), PHASEGATE_TAG(LockStmt),
    PHASEGATE_TAG(ConstraintsSetStmt), PHASEGATE_TAG(ReindexStmt), PHASEGATE_TAG(CheckPointStmt), PHASEGATE_TAG(CreateSchemaStmt),
    PHASEGATE_TAG(AlterDatabaseStmt), PHASEGATE_TAG(AlterDatabaseRefreshCollStmt), PHASEGATE_TAG(AlterDatabaseSetStmt),
    PHASEGATE_TAG(AlterRoleSetStmt), PHASEGATE_TAG(CreateConversionStmt), PHASEGATE_TAG(CreateCastStmt),
    PHASEGATE_TAG(CreateOpClassStmt), PHASEGATE_TAG(CreateOpFamilyStmt), PHASEGATE_TAG(AlterOpFamilyStmt),
    PHASEGATE_TAG(PrepareStmt), PHASEGATE_TAG(ExecuteStmt), PHASEGATE_TAG(DeallocateStmt), PHASEGATE_TAG(DeclareCursorStmt),
    PHASEGATE_TAG(CreateTableSpaceStmt), PHASEGATE_TAG(DropTableSpaceStmt), PHASEGATE_TAG(AlterObjectDependsStmt),
    PHASEGATE_TAG(AlterObjectSchemaStmt), PHASEGATE_TAG(AlterOwnerStmt), PHASEGATE_TAG(AlterOperatorStmt),
    PHASEGATE_TAG(AlterTypeStmt), PHASEGATE_TAG(DropOwnedStmt), PHASEGATE_TAG(ReassignOwnedStmt), PHASEGATE_TAG(CompositeTypeStmt),
    PHASEGATE_TAG(CreateEnumStmt), PHASEGATE_TAG(CreateRangeStmt), PHASEGATE_TAG(AlterEnumStmt), PHASEGATE_TAG(AlterTSDictionaryStmt),
    PHASEGATE_TAG(AlterTSConfigurationStmt), PHASEGATE_TAG(CreateFdwStmt), PHASEGATE_TAG(AlterFdwStmt), PHASEGATE_TAG(CreateForeignServerStmt),
    PHASEGATE_TAG(AlterForeignServerStmt), PHASEGATE_TAG(CreateUserMappingStmt), PHASEGATE_TAG(AlterUserMappingStmt),
    PHASEGATE_TAG(DropUserMappingStmt), PHASEGATE_TAG(AlterTableSpaceOptionsStmt), PHASEGATE_TAG(AlterTableMoveAllStmt),
    PHASEGATE_TAG(SecLabelStmt), PHASEGATE_TAG(CreateForeignTableStmt), PHASEGATE_TAG(ImportForeignSchemaStmt),
    PHASEGATE_TAG(CreateExtensionStmt), PHASEGATE_TAG(AlterExtensionStmt), PHASEGATE_TAG(AlterExtensionContentsStmt),
    PHASEGATE_TAG(CreateEventTrigStmt), PHASEGATE_TAG(AlterEventTrigStmt), PHASEGATE_TAG(RefreshMatViewStmt),
    PHASEGATE_TAG(ReplicaIdentityStmt), PHASEGATE_TAG(AlterSystemStmt), PHASEGATE_TAG(CreatePolicyStmt),
    PHASEGATE_TAG(AlterPolicyStmt), PHASEGATE_TAG(CreateTransformStmt), PHASEGATE_TAG(CreateAmStmt), PHASEGATE_TAG(CreatePublicationStmt),
    PHASEGATE_TAG(AlterPublicationStmt), PHASEGATE_TAG(CreateSubscriptionStmt), PHASEGATE_TAG(AlterSubscriptionStmt),
    PHASEGATE_TAG(DropSubscriptionStmt), PHASEGATE_TAG(CreateStatsStmt), PHASEGATE_TAG(AlterCollationStmt),
    PHASEGATE_TAG(CallStmt), PHASEGATE_TAG(AlterStatsStmt),
};
#undef PHASEGATE_TAG
}  // namespace

std::string node_name(const Node* node) {
  if (!node) return "";
  // The section's tags are consecutive: index by the first one, then check (a header that broke the run).
  const auto i = static_cast<size_t>(nodeTag(node)) - static_cast<size_t>(T_RawStmt);
  if (i < std::size(kStatementTags) && kStatementTags[i].tag == nodeTag(node)) return kStatementTags[i].name;
  for (const auto& t : kStatementTags)
    if (t.tag == nodeTag(node)) return t.name;
  return "";
}

std::vector<std::string> statement_node_names() {
  std::vector<std::string> out;
  for (const auto& t : kStatementTags) out.emplace_back(t.name);
  return out;
}

}  // namespace phasegate::sql
