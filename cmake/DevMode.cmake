# Developer mode, the way ccache's own build does it (cmake/DevModeWarnings.cmake there): warnings are errors
# only for the people who can fix them — a git checkout or CI — never for a user's, a tarball's or a
# distribution's build, where a newer compiler's new warning must not break the package.
#   -DPHASEGATE_DEV_MODE=ON|OFF overrides the guess (a packager building from a git checkout passes OFF).
if(EXISTS "${CMAKE_CURRENT_SOURCE_DIR}/.git" OR "$ENV{CI}" MATCHES "^(1|[Tt][Rr][Uu][Ee]|[Yy][Ee][Ss])$")
  set(_phasegate_dev_default ON)
else()
  set(_phasegate_dev_default OFF)
endif()
option(PHASEGATE_DEV_MODE "Developer mode (git checkout or CI): warnings are errors, ccache launches the compiler"
       ${_phasegate_dev_default})
message(STATUS "phasegate developer mode: ${PHASEGATE_DEV_MODE}")

# In developer mode ccache, when installed, launches the compiler unless the caller chose a launcher.
if(PHASEGATE_DEV_MODE AND NOT DEFINED CMAKE_CXX_COMPILER_LAUNCHER)
  find_program(PHASEGATE_CCACHE ccache)
  if(PHASEGATE_CCACHE)
    set(CMAKE_CXX_COMPILER_LAUNCHER "${PHASEGATE_CCACHE}")
  endif()
endif()

# The warnings every target gets; -Werror only in developer mode.
add_library(phasegate_warnings INTERFACE)
target_compile_options(phasegate_warnings INTERFACE -Wall -Wextra -Wpedantic
  $<$<BOOL:${PHASEGATE_DEV_MODE}>:-Werror>)
