# The tests that run our C++ again, against a second build made with -DTRACEIFACE_SANITIZE=ON
# (AddressSanitizer + LeakSanitizer + UBSan), as asan.* entries of this same ctest run, so one
# summary covers both. scripts/test.sh builds that tree (build-asan) and passes its path here;
# unset, nothing is added. Fuzzers, Go, Helm, dashboards and benchmarks do not run twice.
set(TRACEIFACE_ASAN_BUILD_DIR "" CACHE PATH
    "A -DTRACEIFACE_SANITIZE=ON build tree whose binaries the asan.* tests run")

# Any report is fatal and names its stack; leaks are checked at every exit.
set(TRACEIFACE_ASAN_ENV
    "ASAN_OPTIONS=halt_on_error=1:detect_leaks=1:abort_on_error=0"
    "UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1"
    "LSAN_OPTIONS=suppressions=${CMAKE_CURRENT_LIST_DIR}/lsan.supp:print_suppressions=0")

if(TRACEIFACE_ASAN_BUILD_DIR)
  add_test(NAME asan.unit COMMAND ${TRACEIFACE_ASAN_BUILD_DIR}/tests/traceiface_unit_tests)
  set_tests_properties(asan.unit PROPERTIES TIMEOUT 600 ENVIRONMENT "${TRACEIFACE_ASAN_ENV}")
  add_test(NAME asan.integration.bpf_load
           COMMAND ${TRACEIFACE_ASAN_BUILD_DIR}/tests/traceiface_bpf_load_test)
  set_tests_properties(asan.integration.bpf_load PROPERTIES
    SKIP_RETURN_CODE 77 TIMEOUT 600 ENVIRONMENT "${TRACEIFACE_ASAN_ENV}")
  add_test(NAME asan.integration.tc_slot_table
           COMMAND ${TRACEIFACE_ASAN_BUILD_DIR}/tests/traceiface_tc_slot_table_test)
  set_tests_properties(asan.integration.tc_slot_table PROPERTIES
    SKIP_RETURN_CODE 77 TIMEOUT 600 ENVIRONMENT "${TRACEIFACE_ASAN_ENV}")
endif()

# Called by traceiface_integration_test(): the same script with the sanitized binaries.
# tests/integration/lib.sh fails the test when an exporter's stderr holds a sanitizer report.
function(traceiface_asan_integration_test name)
  if(NOT TRACEIFACE_ASAN_BUILD_DIR OR name STREQUAL "selftest_harness")
    return()
  endif()
  add_test(NAME asan.integration.${name}
           COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/integration/${name}.sh)
  set_tests_properties(asan.integration.${name} PROPERTIES
    SKIP_RETURN_CODE 77 RUN_SERIAL TRUE TIMEOUT 900
    ENVIRONMENT "TIF_BUILD_DIR=${TRACEIFACE_ASAN_BUILD_DIR};${TRACEIFACE_ASAN_ENV}")
endfunction()
