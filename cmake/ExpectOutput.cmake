# cmake -DCOMMAND=<exe> [-DARGS=<a;b>] [-DEXPECT_RC=<n>] [-DEXPECT=<text;text>] [-DREJECT=<text;text>]
#       [-DEXPECT_FILES=<path;path>] -P ExpectOutput.cmake
# Passes when COMMAND exits with EXPECT_RC (default 0), its output (stdout and stderr) contains
# every EXPECT text and none of the REJECT texts, and every EXPECT_FILES file exists, not empty:
# a check of the exit code a caller acts on and of the message a person reads, where
# ExpectFailure.cmake accepts any non-zero exit.
if(NOT DEFINED EXPECT_RC)
  set(EXPECT_RC 0)
endif()
execute_process(COMMAND ${COMMAND} ${ARGS} RESULT_VARIABLE rc OUTPUT_VARIABLE out
                ERROR_VARIABLE err)
set(all "${out}${err}")
if(NOT rc STREQUAL "${EXPECT_RC}")
  message(FATAL_ERROR "expected exit ${EXPECT_RC}, got ${rc}:\n${all}")
endif()
foreach(text IN LISTS EXPECT)
  string(FIND "${all}" "${text}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "exit ${rc}, but the output lacks '${text}':\n${all}")
  endif()
endforeach()
foreach(text IN LISTS REJECT)
  string(FIND "${all}" "${text}" at)
  if(NOT at EQUAL -1)
    message(FATAL_ERROR "exit ${rc}, but the output contains '${text}':\n${all}")
  endif()
endforeach()
foreach(file IN LISTS EXPECT_FILES)
  if(NOT EXISTS "${file}")
    message(FATAL_ERROR "exit ${rc}, but ${file} was not written:\n${all}")
  endif()
  file(SIZE "${file}" size)
  if(size EQUAL 0)
    message(FATAL_ERROR "exit ${rc}, but ${file} is empty:\n${all}")
  endif()
endforeach()
message(STATUS "exit ${rc} with: ${EXPECT}")
