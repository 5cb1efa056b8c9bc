# libFuzzer targets for every parser of outside input, built with clang (the project may be
# built with gcc) when clang links -fsanitize=fuzzer,address here. Each target is a ctest test
# that runs for a bounded time from its checked-in seeds (tests/fuzz/corpus/<name>/); new
# inputs go to a scratch dir in the build tree, never back into the source tree, and a crashing
# input to build/fuzz-artifacts/NAME-crash-* (add it to the seeds with a unit test when fixed).
option(TRACEIFACE_FUZZ "Build the libFuzzer targets when clang supports them" ON)
find_program(FUZZ_CLANGXX NAMES clang++ clang++-14)

set(_fuzz_ok FALSE)
if(TRACEIFACE_FUZZ AND FUZZ_CLANGXX)
  set(_probe ${CMAKE_BINARY_DIR}/fuzz_probe.cpp)
  file(WRITE ${_probe}
       "#include <cstddef>\n#include <cstdint>\nextern \"C\" int LLVMFuzzerTestOneInput(const uint8_t*, size_t) { return 0; }\n")
  execute_process(COMMAND ${FUZZ_CLANGXX} -fsanitize=fuzzer,address ${_probe}
                          -o ${CMAKE_BINARY_DIR}/fuzz_probe
                  RESULT_VARIABLE _fuzz_rc OUTPUT_QUIET ERROR_QUIET)
  if(_fuzz_rc EQUAL 0)
    set(_fuzz_ok TRUE)
  else()
    if("$ENV{CI}" STREQUAL "true") # CI must not pass by leaving the fuzzers out
      message(FATAL_ERROR "${FUZZ_CLANGXX} cannot link -fsanitize=fuzzer (libclang-rt-dev?)")
    endif()
    message(STATUS "traceiface: ${FUZZ_CLANGXX} cannot link -fsanitize=fuzzer: no fuzz targets")
  endif()
endif()

# traceiface_fuzz(NAME SECONDS s MAX_LEN n SOURCES exporter/a.cpp ... [LIBS -lfoo ...])
# builds tests/fuzz/NAME_fuzz.cpp with the listed project sources into NAME_fuzz and adds the
# test fuzz.NAME. Every run prints libFuzzer's final stats (stat::number_of_executed_units).
function(traceiface_fuzz name)
  if(NOT _fuzz_ok)
    return()
  endif()
  cmake_parse_arguments(F "" "SECONDS;MAX_LEN" "SOURCES;LIBS" ${ARGN})
  # In a subdirectory: a file named like its target in the same directory makes gmake report
  # a circular dependency.
  set(bin ${CMAKE_BINARY_DIR}/fuzz/${name}_fuzz)
  file(MAKE_DIRECTORY ${CMAKE_BINARY_DIR}/fuzz)
  set(main ${CMAKE_CURRENT_LIST_DIR}/${name}_fuzz.cpp)
  set(srcs)
  set(deps CXX ${main})
  foreach(s ${F_SOURCES})
    list(APPEND srcs ${CMAKE_SOURCE_DIR}/${s})
    list(APPEND deps CXX ${CMAKE_SOURCE_DIR}/${s})
  endforeach()
  add_custom_command(
    OUTPUT ${bin}
    COMMAND ${FUZZ_CLANGXX} -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined
            -fno-sanitize-recover=undefined
            -I${CMAKE_SOURCE_DIR}/exporter -I${CMAKE_SOURCE_DIR}/http
            -I${CMAKE_SOURCE_DIR}/probes -I${TRACEIFACE_GENERATED_DIR}
            ${main} ${srcs} ${F_LIBS} -o ${bin}
    DEPENDS ${main} ${srcs}
    IMPLICIT_DEPENDS ${deps}
    COMMENT "libFuzzer ${name}_fuzz")
  add_custom_target(${name}_fuzz ALL DEPENDS ${bin})
  set(dict)
  if(EXISTS ${CMAKE_CURRENT_LIST_DIR}/${name}.dict) # the parser's keywords, to get past them
    set(dict -dict=${CMAKE_CURRENT_LIST_DIR}/${name}.dict)
  endif()
  set(scratch ${CMAKE_BINARY_DIR}/fuzz-corpus/${name})
  file(MAKE_DIRECTORY ${scratch} ${CMAKE_BINARY_DIR}/fuzz-artifacts)
  add_test(NAME fuzz.${name}
           COMMAND ${CMAKE_COMMAND} -E env
                   ASAN_OPTIONS=detect_leaks=1:halt_on_error=1
                   UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
                   ${bin} -max_total_time=${F_SECONDS} -max_len=${F_MAX_LEN} -timeout=5
                   -rss_limit_mb=2048 -print_final_stats=1 ${dict}
                   -artifact_prefix=${CMAKE_BINARY_DIR}/fuzz-artifacts/${name}-
                   ${scratch} ${CMAKE_CURRENT_LIST_DIR}/corpus/${name})
  set_tests_properties(fuzz.${name} PROPERTIES TIMEOUT 180)
endfunction()

# Span-context frames from any local client (exporter/span/span_frame.cpp).
traceiface_fuzz(span_frame SECONDS 12 MAX_LEN 600 SOURCES exporter/span/span_frame.cpp)
# The YAML config file (--config.file) down to every flag's value check.
set(_flag_srcs exporter/config/options.cpp exporter/config/operator_flags.cpp exporter/config/span_options.cpp exporter/config/k8s_options.cpp
    exporter/otlp/otlp_options.cpp
    exporter/log/log.cpp exporter/log/clock.cpp)
traceiface_fuzz(config_yaml SECONDS 15 MAX_LEN 4096
  SOURCES exporter/config/config_file.cpp ${_flag_srcs} LIBS -lyaml-cpp -lbpf)
# The command line: NUL-separated argv, plus the value parsers on their own.
traceiface_fuzz(flags SECONDS 12 MAX_LEN 2048
  SOURCES ${_flag_srcs} LIBS -lbpf)
# rtnetlink datagrams: message walk, link attributes, the interface table they update.
traceiface_fuzz(rtnetlink SECONDS 12 MAX_LEN 4096
  SOURCES exporter/net/link_parser.cpp exporter/net/iface_table.cpp)
# The scraper's Accept header (content negotiation).
traceiface_fuzz(http_accept SECONDS 8 MAX_LEN 1024
  SOURCES http/openmetrics.cpp http/exposition.cpp LIBS -lprometheus-cpp-core)
