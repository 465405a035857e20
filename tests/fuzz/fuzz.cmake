# libFuzzer targets (tests/fuzz/fuzz_*.cpp) with AddressSanitizer + UndefinedBehaviorSanitizer.
# Included from the top CMakeLists.txt when -DVITNAS_FUZZ=ON (clang only, own build dir, see
# scripts/fuzz.sh). Only the parsers' sources are compiled, not the whole library: the models,
# trainers and CLI are not needed and would triple the (sanitized) build time.
if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  message(FATAL_ERROR "VITNAS_FUZZ needs clang (libFuzzer): CC=clang CXX=clang++ cmake ...")
endif()

# fuzzer-no-link instruments for coverage without libFuzzer's main(); -fno-sanitize-recover makes
# every UBSan report fatal, so the fuzzer stops and saves the input instead of printing and going on.
set(VITNAS_FUZZ_FLAGS -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all
    -fno-omit-frame-pointer)
set(VITNAS_FUZZ_SOURCES
    core/arch_spec.cpp core/presets.cpp core/json_read.cpp core/io.cpp core/search_space.cpp
    core/safetensors.cpp core/safetensors_header.cpp core/arch_walk.cpp
    profile/latency_table.cpp profile/op_signature.cpp profile/device_info.cpp
    profile/mpc_calibration.cpp profile/mpc_cost.cpp profile/mpc_ops.cpp profile/mpc_link.cpp
    profile/mpc_cost_table.cpp profile/mpc_json.cpp profile/measured_points.cpp profile/text.cpp
    train/checkpoint.cpp
    data/idx.cpp data/cifar.cpp data/memory_dataset.cpp data/image_decode.cpp)
list(TRANSFORM VITNAS_FUZZ_SOURCES PREPEND ${PROJECT_SOURCE_DIR}/src/)
add_library(vitnas_fuzzlib STATIC ${VITNAS_FUZZ_SOURCES})
target_include_directories(vitnas_fuzzlib PUBLIC ${PROJECT_SOURCE_DIR}/src)
target_compile_options(vitnas_fuzzlib PUBLIC ${VITNAS_FUZZ_FLAGS})
target_link_options(vitnas_fuzzlib PUBLIC -fsanitize=address,undefined)
target_link_libraries(vitnas_fuzzlib PUBLIC ${TORCH_LIBRARIES} nlohmann_json::nlohmann_json
                      Eigen3::Eigen ZLIB::ZLIB PNG::PNG PkgConfig::TURBOJPEG)
target_compile_definitions(vitnas_fuzzlib PUBLIC VITNAS_VERSION="${PROJECT_VERSION}")
target_precompile_headers(vitnas_fuzzlib PRIVATE <torch/torch.h> <nlohmann/json.hpp>)

file(GLOB VITNAS_FUZZ_TARGETS CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/tests/fuzz/fuzz_*.cpp)
foreach(source ${VITNAS_FUZZ_TARGETS})
  get_filename_component(name ${source} NAME_WE)
  add_executable(${name} ${source})
  target_link_libraries(${name} PRIVATE vitnas_fuzzlib)
  target_link_options(${name} PRIVATE -fsanitize=fuzzer)
  target_precompile_headers(${name} REUSE_FROM vitnas_fuzzlib)
endforeach()

# The Catch2 regression tests of what the fuzzers found, built with the same sanitizers (they use
# only the parsers' sources): a cheap check of each fix without the full sanitized suite.
find_package(Catch2 2 REQUIRED)
add_executable(fuzz_regressions ${PROJECT_SOURCE_DIR}/tests/main.cpp
               ${PROJECT_SOURCE_DIR}/tests/test_fuzz_regressions.cpp)
target_link_libraries(fuzz_regressions PRIVATE vitnas_fuzzlib Catch2::Catch2)
target_link_options(fuzz_regressions PRIVATE -fsanitize=address,undefined)
target_precompile_headers(fuzz_regressions REUSE_FROM vitnas_fuzzlib)
