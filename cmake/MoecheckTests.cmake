# moecheck_add_testbed(<target> SOURCES ... [LIBS ...])
#
# Builds a testbed binary (suites/testbed/main.cpp plus the given suite files) and registers
# every catalog case it runs as its own ctest entry, each its own process (DESIGN.md section 7),
# labelled by the case (cpu/gpu, tier, stage, suite, kernel, negative). The list is written by
# the binary itself (--moecheck-ctest-file) after every build and whenever a case file changes,
# and ctest reads it through TEST_INCLUDE_FILES.
set(MOECHECK_CATALOG_DIR ${PROJECT_SOURCE_DIR}/cases)
file(GLOB_RECURSE MOECHECK_CASE_FILES CONFIGURE_DEPENDS ${MOECHECK_CATALOG_DIR}/*.yaml)

function(moecheck_add_testbed target)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBS" ${ARGN})
  add_executable(${target} ${ARG_SOURCES})
  target_link_libraries(${target} PRIVATE moecheck_testbed ${ARG_LIBS})
  set(list_file ${CMAKE_CURRENT_BINARY_DIR}/${target}_cases.cmake)
  add_custom_command(
    OUTPUT ${list_file}
    COMMAND $<TARGET_FILE:${target}> --catalog ${MOECHECK_CATALOG_DIR}
            --moecheck-ctest-file ${list_file}
    DEPENDS ${target} ${MOECHECK_CASE_FILES}
    COMMENT "Listing the catalog cases of ${target} for ctest")
  add_custom_target(${target}_cases ALL DEPENDS ${list_file})
  # ctest reads the list through a guard, so a build of only some testbeds still runs the others.
  set(guard_file ${CMAKE_CURRENT_BINARY_DIR}/${target}_include.cmake)
  file(WRITE ${guard_file}
       "if(EXISTS \"${list_file}\")\n  include(\"${list_file}\")\nelse()\n"
       "  message(WARNING \"${target} is not built: its cases are not listed\")\nendif()\n")
  set_property(DIRECTORY APPEND PROPERTY TEST_INCLUDE_FILES ${guard_file})
endfunction()
