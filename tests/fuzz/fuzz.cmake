# libFuzzer target for the span frame decoder, built with clang (the project may be built with
# gcc) when clang links -fsanitize=fuzzer,address here. A bounded run is a ctest test.
option(TRACEIFACE_FUZZ "Build the libFuzzer targets when clang supports them" ON)
find_program(FUZZ_CLANGXX NAMES clang++ clang++-14)
if(TRACEIFACE_FUZZ AND FUZZ_CLANGXX)
  set(_probe ${CMAKE_BINARY_DIR}/fuzz_probe.cpp)
  file(WRITE ${_probe}
       "#include <cstddef>\n#include <cstdint>\nextern \"C\" int LLVMFuzzerTestOneInput(const uint8_t*, size_t) { return 0; }\n")
  execute_process(COMMAND ${FUZZ_CLANGXX} -fsanitize=fuzzer,address ${_probe}
                          -o ${CMAKE_BINARY_DIR}/fuzz_probe
                  RESULT_VARIABLE _fuzz_rc OUTPUT_QUIET ERROR_QUIET)
  if(_fuzz_rc EQUAL 0)
    set(_fuzz ${CMAKE_BINARY_DIR}/span_frame_fuzz)
    add_custom_command(
      OUTPUT ${_fuzz}
      COMMAND ${FUZZ_CLANGXX} -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined
              -I${CMAKE_SOURCE_DIR}/exporter -I${CMAKE_SOURCE_DIR}/probes
              ${CMAKE_CURRENT_LIST_DIR}/span_frame_fuzz.cpp
              ${CMAKE_SOURCE_DIR}/exporter/span_frame.cpp -o ${_fuzz}
      DEPENDS ${CMAKE_CURRENT_LIST_DIR}/span_frame_fuzz.cpp
              ${CMAKE_SOURCE_DIR}/exporter/span_frame.cpp ${CMAKE_SOURCE_DIR}/exporter/span_frame.h
      COMMENT "libFuzzer span_frame_fuzz")
    add_custom_target(span_frame_fuzz ALL DEPENDS ${_fuzz})
    # Reads the checked-in seeds, writes nothing back (new inputs go to a scratch dir).
    add_test(NAME fuzz.span_frame
             COMMAND ${CMAKE_COMMAND} -E env ASAN_OPTIONS=detect_leaks=1
                     ${_fuzz} -max_total_time=20 -max_len=600 -timeout=5
                     ${CMAKE_BINARY_DIR}/fuzz-corpus ${CMAKE_CURRENT_LIST_DIR}/corpus)
    set_tests_properties(fuzz.span_frame PROPERTIES TIMEOUT 120)
    file(MAKE_DIRECTORY ${CMAKE_BINARY_DIR}/fuzz-corpus)
  else()
    message(STATUS "traceiface: ${FUZZ_CLANGXX} cannot link -fsanitize=fuzzer: no fuzz targets")
  endif()
endif()
