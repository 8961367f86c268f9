# parley_module(NAME SOURCES ... DEPS ...): one static library per module (docs/ARCHITECTURE.md).
function(parley_module name)
  cmake_parse_arguments(M "" "" "SOURCES;DEPS" ${ARGN})
  add_library(parley_${name} STATIC ${M_SOURCES})
  target_include_directories(parley_${name} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(parley_${name} PUBLIC ${M_DEPS})
endfunction()

# parley_test(NAME SOURCES ... DEPS ...): one GoogleTest executable per module, run by ctest.
function(parley_test name)
  if(NOT PARLEY_BUILD_TESTS)
    return()
  endif()
  cmake_parse_arguments(T "" "" "SOURCES;DEPS" ${ARGN})
  add_executable(${name}_test ${T_SOURCES})
  target_link_libraries(${name}_test PRIVATE ${T_DEPS} GTest::gtest_main)
  gtest_discover_tests(${name}_test DISCOVERY_TIMEOUT 60)
endfunction()
