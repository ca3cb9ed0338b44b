# What `cmake --install` (and so cpack) puts where: the binary, phasegate(1), bash and zsh completions, the
# ready-made hooks and the user docs. The man page and the completions are printed by the built binary itself
# (`phasegate _generate man|bash|zsh`, src/cli/generate.cpp) from its CLI definition at install time, so they
# cannot go stale and the man page names the prefix really installed into (cpack: /usr).
include(GNUInstallDirs)
set(PHASEGATE_BASH_COMPLETION_DIR "${CMAKE_INSTALL_DATADIR}/bash-completion/completions" CACHE STRING
    "where the bash completion goes (relative: under the prefix); bash-completion loads it on first use")
set(PHASEGATE_ZSH_COMPLETION_DIR "${CMAKE_INSTALL_DATADIR}/zsh/vendor-completions" CACHE STRING
    "where the zsh completion _phasegate goes (Debian's zsh has vendor-completions in its fpath)")

install(TARGETS phasegate RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}")

set(_gen "${CMAKE_CURRENT_BINARY_DIR}/install-generated")
install(CODE "
  file(MAKE_DIRECTORY \"${_gen}\")
  foreach(what man bash zsh)
    execute_process(COMMAND \"$<TARGET_FILE:phasegate>\" _generate \${what} --prefix \"\${CMAKE_INSTALL_PREFIX}\"
                    OUTPUT_FILE \"${_gen}/phasegate.\${what}\" RESULT_VARIABLE rc)
    if(NOT rc EQUAL 0)
      message(FATAL_ERROR \"phasegate _generate \${what} failed (\${rc})\")
    endif()
  endforeach()
  # Debian policy: man pages gzip-compressed, -n so the package is reproducible (no name, no timestamp).
  execute_process(COMMAND gzip -9nc \"${_gen}/phasegate.man\" OUTPUT_FILE \"${_gen}/phasegate.1.gz\" RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR \"gzip of the man page failed (\${rc})\")
  endif()
")
install(FILES "${_gen}/phasegate.1.gz" DESTINATION "${CMAKE_INSTALL_MANDIR}/man1")
install(FILES "${_gen}/phasegate.bash" DESTINATION "${PHASEGATE_BASH_COMPLETION_DIR}" RENAME phasegate)
install(FILES "${_gen}/phasegate.zsh" DESTINATION "${PHASEGATE_ZSH_COMPLETION_DIR}" RENAME _phasegate)

file(GLOB _hooks CONFIGURE_DEPENDS "${CMAKE_CURRENT_SOURCE_DIR}/hooks/*")
install(PROGRAMS ${_hooks} DESTINATION "${CMAKE_INSTALL_DATADIR}/phasegate/hooks")
# The recipes `phasegate new NAME --recipe R` instantiates (plans/, docs/recipes.md), found at <bin>/../share/phasegate/recipes.
file(GLOB _recipes CONFIGURE_DEPENDS "${CMAKE_CURRENT_SOURCE_DIR}/plans/*.toml")
install(FILES ${_recipes} DESTINATION "${CMAKE_INSTALL_DATADIR}/phasegate/recipes")
install(FILES README.md DESTINATION "${CMAKE_INSTALL_DOCDIR}")
install(DIRECTORY docs/ DESTINATION "${CMAKE_INSTALL_DOCDIR}" FILES_MATCHING PATTERN "*.md")
