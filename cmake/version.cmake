# version.h: the project version and the git revision the build came from.
execute_process(
  COMMAND git -C ${CMAKE_SOURCE_DIR} rev-parse --short=12 HEAD
  OUTPUT_VARIABLE TRACEIFACE_REVISION OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
if(NOT TRACEIFACE_REVISION)
  set(TRACEIFACE_REVISION unknown)
endif()
configure_file(${CMAKE_SOURCE_DIR}/cmake/version.h.in ${TRACEIFACE_GENERATED_DIR}/version.h @ONLY)
