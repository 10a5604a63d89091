# cmake -DCOMMAND=<exe> -DARGS=<a;b> -DEXPECT=<text> -P ExpectFailure.cmake
# Passes when COMMAND exits non-zero and its output contains EXPECT: a check that bad input is
# refused with a clear message, not merely that something failed.
execute_process(COMMAND ${COMMAND} ${ARGS} RESULT_VARIABLE rc OUTPUT_VARIABLE out
                ERROR_VARIABLE err)
if(rc EQUAL 0)
  message(FATAL_ERROR "expected a non-zero exit, got 0\n${out}${err}")
endif()
string(FIND "${out}${err}" "${EXPECT}" at)
if(at EQUAL -1)
  message(FATAL_ERROR "exit ${rc}, but the output lacks '${EXPECT}':\n${out}${err}")
endif()
message(STATUS "exit ${rc} with: ${EXPECT}")
