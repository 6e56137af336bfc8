# Version differences between Debian 12 and newer systems, isolated here.

# yaml-cpp 0.7 exports the target `yaml-cpp`; 0.8 exports `yaml-cpp::yaml-cpp`.
if(TARGET yaml-cpp::yaml-cpp)
  add_library(lv_yaml INTERFACE)
  target_link_libraries(lv_yaml INTERFACE yaml-cpp::yaml-cpp)
else()
  add_library(lv_yaml INTERFACE)
  target_link_libraries(lv_yaml INTERFACE yaml-cpp)
endif()
add_library(lv::yaml ALIAS lv_yaml)

# Catch2 v2 (Debian 12) is one header with a user-provided main; v3 ships Catch2WithMain.
if(LV_BUILD_TESTS)
  find_package(Catch2 REQUIRED)
  add_library(lv_catch2 INTERFACE)
  if(Catch2_VERSION VERSION_GREATER_EQUAL 3)
    target_link_libraries(lv_catch2 INTERFACE Catch2::Catch2WithMain)
    target_compile_definitions(lv_catch2 INTERFACE LV_CATCH2_V3=1)
  else()
    target_link_libraries(lv_catch2 INTERFACE Catch2::Catch2)
  endif()
  add_library(lv::catch2 ALIAS lv_catch2)

  # catch_discover_tests, and a test whose name matches no test case fails instead of passing
  # with "No tests ran" (a ';' in a name once split it into two such ctest entries unnoticed).
  include(Catch)
  function(lv_discover_tests target)
    catch_discover_tests(${target} EXTRA_ARGS --warn NoTests ${ARGN})
  endfunction()
endif()
