# cmake -DCONFIG=<build>/ci/bundle/bundle_config.cmake [-DARCHIVE=<file.tar.gz>] -P pack.cmake
#
# Packs what the build has built into one relocatable archive holding moecheck-bundle/ (the
# `bundle` target runs this after building; ci/bundle/CMakeLists.txt describes the content). It
# builds nothing: `cmake --install` of the moecheck_bundle component into a staging folder (which
# sets every binary's RUNPATH to $ORIGIN/<up>/lib and copies the shared libraries they need into
# lib/), the marker file MOECHECK_BUNDLE, then the tarball.
if(NOT CONFIG OR NOT EXISTS "${CONFIG}")
  message(FATAL_ERROR "pack.cmake: -DCONFIG=<build>/ci/bundle/bundle_config.cmake is required")
endif()
include("${CONFIG}")
if(NOT ARCHIVE)
  set(ARCHIVE "${BUNDLE_BUILD}/moecheck-bundle-${BUNDLE_VARIANT}.tar.gz")
endif()
get_filename_component(ARCHIVE "${ARCHIVE}" ABSOLUTE)
set(stage "${ARCHIVE}.stage")
set(root "${stage}/moecheck-bundle")
file(REMOVE_RECURSE "${stage}")
file(REMOVE "${ARCHIVE}")

if(BUNDLE_X86_64_V3 AND CMAKE_HOST_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64")
  message(WARNING "moecheck bundle: this build has MOECHECK_X86_64_V3=ON: its binaries run only "
                  "on x86-64-v3 CPUs (AVX2, FMA; the bundle's gate refuses others). For runners, "
                  "build the bundle in a folder configured with -DMOECHECK_X86_64_V3=OFF.")
endif()

execute_process(
  COMMAND "${CMAKE_COMMAND}" --install "${BUNDLE_BUILD}" --component moecheck_bundle
          --prefix "${root}"
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "moecheck bundle: cmake --install failed (${rc}):\n${out}${err}")
endif()
foreach(testbed IN LISTS BUNDLE_TESTBEDS)
  if(NOT EXISTS "${root}/${testbed}")
    message(FATAL_ERROR "moecheck bundle: ${testbed} is not built (build the bundle target)")
  endif()
endforeach()

# The marker: the binaries find the bundle's root by it (suites/catalog/bundle_paths.hpp), the
# gate reads the testbeds and the instruction set from it.
set(commit "unknown")
find_program(GIT git)
if(GIT AND EXISTS "${BUNDLE_SOURCE}/.git")
  execute_process(COMMAND "${GIT}" -C "${BUNDLE_SOURCE}" describe --always --dirty --abbrev=12
                  OUTPUT_VARIABLE commit OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
endif()
string(REPLACE ";" " " archs "${BUNDLE_HIP_ARCHITECTURES}")
string(TIMESTAMP when "%Y-%m-%dT%H:%M:%SZ" UTC)
set(marker "moecheck bundle ${BUNDLE_VERSION}\n"
           "variant: ${BUNDLE_VARIANT}\n"
           "x86_64_v3: ${BUNDLE_X86_64_V3}\n"
           "hip_architectures: ${archs}\n"
           "source: ${commit}\n"
           "packed: ${when} on ${CMAKE_HOST_SYSTEM_NAME} ${CMAKE_HOST_SYSTEM_PROCESSOR}\n")
foreach(testbed IN LISTS BUNDLE_TESTBEDS)
  list(APPEND marker "testbed: ${testbed}\n")
endforeach()
string(REPLACE ";" "" marker "${marker}")
file(WRITE "${root}/MOECHECK_BUNDLE" "${marker}")

execute_process(COMMAND "${CMAKE_COMMAND}" -E tar czf "${ARCHIVE}" moecheck-bundle
                WORKING_DIRECTORY "${stage}" RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "moecheck bundle: cannot write ${ARCHIVE}")
endif()
file(REMOVE_RECURSE "${stage}")
file(SIZE "${ARCHIVE}" size)
math(EXPR mib "${size} / 1048576")
message(STATUS "moecheck bundle: ${ARCHIVE} (${mib} MiB; ${BUNDLE_VARIANT}, source ${commit}). "
               "On a runner: tar xzf it, then moecheck-bundle/gate --help")
