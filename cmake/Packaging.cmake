# `cpack -G DEB` after a build: a Debian package of what cmake/Install.cmake installs, under /usr.
# Depends: the shared libraries' packages (dpkg-shlibdeps, from dpkg-dev) plus what a library link does not show:
# ssh-keygen (approvals, SPEC §3.2) and the tz database (off-peak windows, §3.1). Recommends: git (master rollback
# of kind "git") and curl (the ready-made hooks). tests/e2e/test_package.sh builds, packs and installs it.
set(PHASEGATE_PACKAGE_MAINTAINER "phasegate maintainers <phasegate@localhost>" CACHE STRING
    "the Maintainer field of the .deb")
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME phasegate)
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_PACKAGE_CONTACT "${PHASEGATE_PACKAGE_MAINTAINER}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "phased PostgreSQL schema changes behind guards")
# The long description, one Debian control line per \n (CPack indents them).
string(CONCAT CPACK_PACKAGE_DESCRIPTION
  "phasegate runs a schema change plan's expand, migrate and contract phases\n"
  "as a persisted state machine in the target PostgreSQL database, behind\n"
  "guards (off-peak windows, signed approvals, lock timeouts, load throttling).\n"
  "It restarts the application's services between phases, runs smoke checks,\n"
  "and on failure rolls back the database steps and the application's release\n"
  "commit. It includes a SQL linter built on the PostgreSQL parser (libpg_query).")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # phasegate_0.1.0_amd64.deb
set(CPACK_DEBIAN_PACKAGE_SECTION database)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "openssh-client, tzdata")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "git, curl")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "bash-completion, postgresql-client")
set(CPACK_STRIP_FILES ON)
include(CPack)
