# cmake -DDEMO=<broken testbed> -DCLI=<moecheck> -DCATALOG=<dir> -DTEST=<suite.name> -DWORK=<dir>
#       -P failure_dump_test.cmake
# A failing case (tests/broken_impl_suite.cpp) run with --dump-failures: exits non-zero, prints
# the commands that rerun it alone, leaves its inputs, case.json and failed output in
# WORK/<test>/, and `moecheck verify` of that output fails naming the corrupted element.
file(REMOVE_RECURSE ${WORK})
execute_process(COMMAND ${DEMO} --catalog ${CATALOG} --dump-failures ${WORK}
                        --gtest_filter=${TEST}
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
message(STATUS "testbed exit ${rc}:\n${out}${err}")
if(rc EQUAL 0)
  message(FATAL_ERROR "the broken implementation passed")
endif()
string(REPLACE "." "\\." regex "${TEST}")
foreach(want "rerun it alone" "ctest --test-dir " "-R '^${regex}$'"
             "--gtest_filter='${TEST}'" "its inputs and case.json are in ${WORK}/${TEST}/")
  string(FIND "${out}" "${want}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "the failure output lacks '${want}'")
  endif()
endforeach()
foreach(file case.json activations.npy topk_ids.npy w1_qweight.npy gemm1_actual.npy
             gemm1_reference.npy gemm1_bound.npy gemm1_result.txt)
  if(NOT EXISTS ${WORK}/${TEST}/${file})
    message(FATAL_ERROR "${WORK}/${TEST}/${file} was not written")
  endif()
endforeach()
execute_process(COMMAND ${CLI} verify --dir ${WORK}/${TEST} --stage gemm1
                        --output ${WORK}/${TEST}/gemm1_actual.npy
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
message(STATUS "moecheck verify exit ${rc}:\n${out}${err}")
if(NOT rc EQUAL 1)
  message(FATAL_ERROR "verify of the dumped failure exited ${rc}, expected 1")
endif()
string(FIND "${out}" "at row 0, column 7:" at)
if(at EQUAL -1)
  message(FATAL_ERROR "verify did not name the corrupted element (row 0, column 7)")
endif()
