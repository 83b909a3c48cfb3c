# Emulated kernel tests: the unchanged kernels/*.cu launchers and *.cuh kernels compiled by the host
# C++ compiler against the CUDA emulator (tests/kernels/emulator/), each kernel compared with the
# CPU backend (linked from vrestore) and with an independent reference. No GPU needed.
# Included once from the build (after the vrestore target and enable_testing()); see docs/cuda.md.
#
# In CUDA builds the library compiles the same kernels/*.cu with nvcc (src/CMakeLists.txt); nothing
# here is needed for that.

# The toolkit's headers give the emulator the real CUDA types (dim3, cudaError_t, __half).
find_package(CUDAToolkit QUIET)
if(NOT CUDAToolkit_FOUND)
  message(STATUS "vrestore: kernel tests skipped (no CUDA toolkit headers)")
  return()
endif()
find_package(Catch2 REQUIRED)
include(Catch)

set(VRESTORE_KERNELS_DIR ${vrestore_SOURCE_DIR}/kernels)
set(VRESTORE_KERNEL_TESTS_DIR ${vrestore_SOURCE_DIR}/tests/kernels)

# Each launcher .cu is compiled through a one-line .cpp that includes it, so the host compiler
# treats it as C++ without touching the .cu's language in the library target. gemm.cu is the cuBLAS
# side of the gemm seam; the emulated build binds the seam to tests/kernels/gemm_emulated.cpp.
file(GLOB VRESTORE_KERNEL_LAUNCHERS CONFIGURE_DEPENDS ${VRESTORE_KERNELS_DIR}/*.cu)
list(FILTER VRESTORE_KERNEL_LAUNCHERS EXCLUDE REGEX "/gemm\\.cu$")
set(VRESTORE_EMULATED_LAUNCHERS)
foreach(launcher ${VRESTORE_KERNEL_LAUNCHERS})
  get_filename_component(stem ${launcher} NAME_WE)
  set(wrapper ${CMAKE_CURRENT_BINARY_DIR}/emulated_kernels/${stem}.cpp)
  file(CONFIGURE OUTPUT ${wrapper} CONTENT "#include \"${launcher}\"\n")
  list(APPEND VRESTORE_EMULATED_LAUNCHERS ${wrapper})
endforeach()

file(GLOB VRESTORE_KERNEL_TEST_SOURCES CONFIGURE_DEPENDS ${VRESTORE_KERNEL_TESTS_DIR}/*.cpp
     ${VRESTORE_KERNEL_TESTS_DIR}/emulator/*.cpp)
add_executable(vrestore_kernel_tests ${VRESTORE_KERNEL_TEST_SOURCES} ${VRESTORE_EMULATED_LAUNCHERS}
               ${vrestore_SOURCE_DIR}/tests/support/fixtures.cpp)
# C++20 for std::source_location (barrier call sites in the emulator's messages).
set_target_properties(vrestore_kernel_tests PROPERTIES CXX_STANDARD 20 CXX_STANDARD_REQUIRED ON)
target_include_directories(vrestore_kernel_tests PRIVATE
  ${VRESTORE_KERNELS_DIR} ${VRESTORE_KERNEL_TESTS_DIR} ${VRESTORE_KERNEL_TESTS_DIR}/emulator
  ${vrestore_SOURCE_DIR}/src ${vrestore_SOURCE_DIR}/tests)
# Only the toolkit's headers: the emulator provides the runtime functions, so no CUDA library is
# linked (and none needs to exist at run time).
target_include_directories(vrestore_kernel_tests SYSTEM PRIVATE ${CUDAToolkit_INCLUDE_DIRS})
target_compile_definitions(vrestore_kernel_tests PRIVATE VRESTORE_SOURCE_DIR="${vrestore_SOURCE_DIR}"
                                                         VRESTORE_BINARY_DIR="${vrestore_BINARY_DIR}")
target_compile_options(vrestore_kernel_tests PRIVATE -Wall -Wextra)
target_link_libraries(vrestore_kernel_tests PRIVATE vrestore Catch2::Catch2)

# Optional AddressSanitizer + UndefinedBehaviorSanitizer build of the kernel tests: it reports
# out-of-bounds kernel accesses at the faulting line, like compute-sanitizer's memcheck, and
# overflowing index arithmetic, misaligned or null accesses as errors (docs/cuda.md). CI builds it
# in its own build folder (scripts/test.sh).
option(VRESTORE_KERNEL_TESTS_ASAN "Build the emulated kernel tests with AddressSanitizer and UBSan" OFF)
if(VRESTORE_KERNEL_TESTS_ASAN)
  set(sanitizers -fsanitize=address,undefined -fno-sanitize-recover=all)
  target_compile_options(vrestore_kernel_tests PRIVATE ${sanitizers} -fno-omit-frame-pointer -g)
  target_link_options(vrestore_kernel_tests PRIVATE ${sanitizers})
endif()

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
