# Emulated kernel tests: the unchanged kernels/*.cu launchers and *.cuh kernels, compiled by the
# host C++ compiler into vrestore_emulated (cmake/emulated.cmake), each kernel compared with the
# CPU backend and with an independent reference; and the op harness (tests/emulated/), every op
# through the public op layer on CPU f32, CUDA f32 and CUDA f16. No GPU needed.
# Included once from tests/CMakeLists.txt (after enable_testing()); see docs/cuda.md.
#
# In CUDA builds the library compiles the same kernels/*.cu with nvcc (src/CMakeLists.txt); nothing
# here is needed for that.

if(NOT TARGET vrestore_emulated)  # cmake/emulated.cmake found no CUDA toolkit headers
  message(STATUS "vrestore: kernel tests skipped (no CUDA toolkit headers)")
  return()
endif()
find_package(Catch2 REQUIRED)
include(Catch)

set(VRESTORE_KERNEL_TESTS_DIR ${vrestore_SOURCE_DIR}/tests/kernels)

# The launchers, kernels, emulator and GEMM seam come from vrestore_emulated (one copy of each
# kernel symbol), the CPU reference ops too.
file(GLOB VRESTORE_KERNEL_TEST_SOURCES CONFIGURE_DEPENDS ${VRESTORE_KERNEL_TESTS_DIR}/*.cpp)
list(FILTER VRESTORE_KERNEL_TEST_SOURCES EXCLUDE REGEX "/gemm_emulated\\.cpp$")
add_executable(vrestore_kernel_tests ${VRESTORE_KERNEL_TEST_SOURCES} ${vrestore_SOURCE_DIR}/tests/support/fixtures.cpp)
# C++20 for std::source_location (barrier call sites in the emulator's messages).
set_target_properties(vrestore_kernel_tests PROPERTIES CXX_STANDARD 20 CXX_STANDARD_REQUIRED ON)
target_include_directories(vrestore_kernel_tests PRIVATE
  ${VRESTORE_KERNEL_TESTS_DIR} ${vrestore_SOURCE_DIR}/src ${vrestore_SOURCE_DIR}/tests)
target_compile_definitions(vrestore_kernel_tests PRIVATE VRESTORE_SOURCE_DIR="${vrestore_SOURCE_DIR}"
                                                         VRESTORE_BINARY_DIR="${vrestore_BINARY_DIR}")
target_compile_options(vrestore_kernel_tests PRIVATE -Wall -Wextra)
target_link_libraries(vrestore_kernel_tests PRIVATE vrestore_emulated Catch2::Catch2)
# VRESTORE_KERNEL_TESTS_ASAN (cmake/emulated.cmake) sanitizes these tests through vrestore_emulated.

# Every test case under two thread orders between sync points: a missing barrier rarely shows
# under only one of them (random: `vrestore_kernel_tests --schedule random`). The schedule is an
# argument rather than an environment variable because catch_discover_tests names its files after
# the arguments only, so two discoveries differing in PROPERTIES alone would overwrite each other.
foreach(schedule forward reverse)
  catch_discover_tests(vrestore_kernel_tests
    TEST_PREFIX "kernels.${schedule}."
    EXTRA_ARGS --schedule ${schedule}
    PROPERTIES LABELS kernels)
endforeach()

# The op harness over both backends (tests/emulated/): every op of src/core/op_list.h through the
# public op layer on CPU f32, CUDA f32 and CUDA f16, and the upstream op fixtures on CUDA; label
# `cuda` (on a real GPU the same cases run against the real backend, scripts/gpu_check.sh).
file(GLOB VRESTORE_EMULATED_TEST_SOURCES CONFIGURE_DEPENDS ${vrestore_SOURCE_DIR}/tests/emulated/*.cpp)
add_executable(vrestore_emulated_op_tests ${VRESTORE_EMULATED_TEST_SOURCES} ${vrestore_SOURCE_DIR}/tests/main.cpp
               ${vrestore_SOURCE_DIR}/tests/support/fixtures.cpp)
set_target_properties(vrestore_emulated_op_tests PROPERTIES CXX_STANDARD 20 CXX_STANDARD_REQUIRED ON)
target_include_directories(vrestore_emulated_op_tests PRIVATE ${vrestore_SOURCE_DIR}/src ${vrestore_SOURCE_DIR}/tests)
target_compile_definitions(vrestore_emulated_op_tests PRIVATE VRESTORE_SOURCE_DIR="${vrestore_SOURCE_DIR}"
                                                              VRESTORE_BINARY_DIR="${vrestore_BINARY_DIR}")
target_compile_options(vrestore_emulated_op_tests PRIVATE -Wall -Wextra)
target_link_libraries(vrestore_emulated_op_tests PRIVATE vrestore_emulated Catch2::Catch2)
catch_discover_tests(vrestore_emulated_op_tests TEST_PREFIX "emulated."
                     PROPERTIES LABELS cuda ENVIRONMENT OMP_WAIT_POLICY=passive)

# Every EDVR / BasicVSR / RealBasicVSR golden case through the emulated CUDA backend, f32 and f16
# (tests/test_models_devices.cpp, its CUDA sections only: vrestore_tests runs the CPU ones).
add_executable(vrestore_emulated_model_tests ${vrestore_SOURCE_DIR}/tests/test_models_devices.cpp
               ${vrestore_SOURCE_DIR}/tests/main.cpp ${vrestore_SOURCE_DIR}/tests/support/fixtures.cpp)
set_target_properties(vrestore_emulated_model_tests PROPERTIES CXX_STANDARD 20 CXX_STANDARD_REQUIRED ON)
target_include_directories(vrestore_emulated_model_tests PRIVATE ${vrestore_SOURCE_DIR}/src ${vrestore_SOURCE_DIR}/tests)
target_compile_definitions(vrestore_emulated_model_tests PRIVATE VRESTORE_TEST_ONLY_CUDA=1
                           VRESTORE_SOURCE_DIR="${vrestore_SOURCE_DIR}" VRESTORE_BINARY_DIR="${vrestore_BINARY_DIR}")
target_compile_options(vrestore_emulated_model_tests PRIVATE -Wall -Wextra)
target_link_libraries(vrestore_emulated_model_tests PRIVATE vrestore_emulated Catch2::Catch2)
catch_discover_tests(vrestore_emulated_model_tests TEST_PREFIX "emulated.models." TEST_SPEC "[cuda]"
                     PROPERTIES LABELS cuda FIXTURES_REQUIRED converted_weights ENVIRONMENT OMP_WAIT_POLICY=passive
                                TIMEOUT 1200)

# vrestore-emulated (examples/CMakeLists.txt) reproduces an upstream EDVR fixture with --device cuda.
if(TARGET vrestore_emulated_cli)
  add_test(NAME cli_emulated_cuda
           COMMAND bash ${vrestore_SOURCE_DIR}/tests/cli/test_cli_emulated.sh $<TARGET_FILE:vrestore_emulated_cli>
                   ${vrestore_BINARY_DIR}/test_scratch/weights ${vrestore_SOURCE_DIR}/../shared/fixtures
                   ${vrestore_BINARY_DIR}/test_scratch/cli_emulated)
  set_tests_properties(cli_emulated_cuda PROPERTIES FIXTURES_REQUIRED converted_weights LABELS cuda
                       ENVIRONMENT OMP_WAIT_POLICY=passive)
endif()

# vrestore and vrestore_emulated share the objects of src/{core,cpu,weights,models,api}
# (src/CMakeLists.txt), which is only right while those sources do not depend on the backend macros.
add_test(NAME shared_sources_backend_neutral
         COMMAND bash -c "! grep -rnE 'VRESTORE_WITH_CUDA|VRESTORE_CUDA_EMULATED' src/core src/cpu src/weights src/models src/api"
         WORKING_DIRECTORY ${vrestore_SOURCE_DIR})
