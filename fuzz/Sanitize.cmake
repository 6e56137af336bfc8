# Included by the top-level CMakeLists before any target when LV_BUILD_FUZZERS is ON: every
# translation unit of this build tree gets AddressSanitizer, UBSan and libFuzzer coverage, so
# the code under test (common/, worker/labels.cpp) is instrumented, not only the targets.
if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  message(FATAL_ERROR "LV_BUILD_FUZZERS needs clang (libFuzzer): configure with -DCMAKE_CXX_COMPILER=clang++-14 "
                      "in a build folder of its own (tools/fuzz.sh does)")
endif()
add_compile_options(-fsanitize=address,undefined,fuzzer-no-link -fno-sanitize-recover=undefined
                    -fno-omit-frame-pointer -g)
add_link_options(-fsanitize=address,undefined)
