# vrestore_emulated: a test-only static library with the whole CUDA backend (src/cuda adapters and
# memory, every kernels/*.cu launcher and its *.cuh kernels) compiled by the host C++ compiler
# against the CUDA emulator (tests/kernels/emulator/), with the cuBLAS GEMM seam bound to the CPU
# loops of tests/kernels/gemm_emulated.cpp. It holds the same backend-independent objects as
# vrestore (src/CMakeLists.txt), so ops and whole models run with tensors on Device::CUDA on a
# machine without a GPU. Used by the kernel tests, the op harness (cmake/kernels.cmake) and the
# vrestore-emulated CLI (examples/CMakeLists.txt). Never installed. See docs/cuda.md.
#
# Included from src/CMakeLists.txt after vrestore, only when tests are built; skipped (no target)
# without the CUDA toolkit's headers. No nvcc and no CUDA library are needed.

# The toolkit's headers give the emulator the real CUDA types (dim3, cudaError_t, __half).
find_package(CUDAToolkit QUIET)
if(NOT CUDAToolkit_FOUND)
  message(STATUS "vrestore: emulated CUDA backend and kernel tests skipped (no CUDA toolkit headers)")
  return()
endif()

set(VRESTORE_KERNELS_DIR ${PROJECT_SOURCE_DIR}/kernels)
set(VRESTORE_EMULATOR_DIR ${PROJECT_SOURCE_DIR}/tests/kernels/emulator)

# Each launcher .cu is compiled through a one-line .cpp that includes it, so the host compiler
# treats it as C++ without touching the .cu's language in the library target. gemm.cu is the
# cuBLAS side of the gemm seam; here the seam is tests/kernels/gemm_emulated.cpp.
file(GLOB VRESTORE_KERNEL_LAUNCHERS CONFIGURE_DEPENDS ${VRESTORE_KERNELS_DIR}/*.cu)
list(FILTER VRESTORE_KERNEL_LAUNCHERS EXCLUDE REGEX "/gemm\\.cu$")
set(VRESTORE_EMULATED_LAUNCHERS)
foreach(launcher ${VRESTORE_KERNEL_LAUNCHERS})
  get_filename_component(stem ${launcher} NAME_WE)
  set(wrapper ${PROJECT_BINARY_DIR}/emulated_kernels/${stem}.cpp)
  file(CONFIGURE OUTPUT ${wrapper} CONTENT "#include \"${launcher}\"\n")
  list(APPEND VRESTORE_EMULATED_LAUNCHERS ${wrapper})
endforeach()

file(GLOB VRESTORE_EMULATED_ADAPTERS CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/src/cuda/*.cpp)
list(FILTER VRESTORE_EMULATED_ADAPTERS EXCLUDE REGEX "/no_cuda\\.cpp$")
file(GLOB VRESTORE_EMULATOR_SOURCES CONFIGURE_DEPENDS ${VRESTORE_EMULATOR_DIR}/*.cpp)

add_library(vrestore_emulated STATIC ${VRESTORE_COMMON_OBJECTS} ${VRESTORE_EMULATED_ADAPTERS}
            ${VRESTORE_EMULATED_LAUNCHERS} ${VRESTORE_EMULATOR_SOURCES}
            ${PROJECT_SOURCE_DIR}/tests/kernels/gemm_emulated.cpp)
# C++20 for std::source_location (barrier call sites in the emulator's messages).
set_target_properties(vrestore_emulated PROPERTIES CXX_STANDARD 20 CXX_STANDARD_REQUIRED ON
                                                   POSITION_INDEPENDENT_CODE ON)
# Public: what kernel tests include (cuda_compat.h -> cuda_emulator.h, the toolkit's headers).
target_include_directories(vrestore_emulated
  PUBLIC ${PROJECT_SOURCE_DIR}/include ${VRESTORE_KERNELS_DIR} ${VRESTORE_EMULATOR_DIR}
  PRIVATE ${PROJECT_SOURCE_DIR}/src)
target_include_directories(vrestore_emulated SYSTEM PUBLIC ${CUDAToolkit_INCLUDE_DIRS})
# As in a CUDA build of vrestore; VRESTORE_CUDA_EMULATED tells consumers the "GPU" is the emulator.
target_compile_definitions(vrestore_emulated PRIVATE VRESTORE_WITH_CUDA=1 PUBLIC VRESTORE_CUDA_EMULATED=1)
target_compile_options(vrestore_emulated PRIVATE -Wall -Wextra ${VRESTORE_ARCH_FLAGS})
target_link_libraries(vrestore_emulated PRIVATE nlohmann_json::nlohmann_json
                                        PUBLIC OpenMP::OpenMP_CXX Threads::Threads)

# Optional AddressSanitizer + UndefinedBehaviorSanitizer build of the emulated backend (its own
# sources: adapters, launchers and kernels, emulator, GEMM seam; the shared CPU objects stay
# unsanitized) and of the tests and programs linking it: it reports out-of-bounds kernel accesses at the
# faulting line, like compute-sanitizer's memcheck, and overflowing index arithmetic, misaligned or
# null accesses as errors (docs/cuda.md). CI builds it in its own build folder (scripts/test.sh).
option(VRESTORE_KERNEL_TESTS_ASAN "Build the emulated CUDA backend and its tests with AddressSanitizer and UBSan" OFF)
if(VRESTORE_KERNEL_TESTS_ASAN)
  set(VRESTORE_SANITIZERS -fsanitize=address,undefined -fno-sanitize-recover=all)
  # Public: the tests' own code is checked too, and every executable linking the sanitized
  # library needs the sanitizer runtimes.
  target_compile_options(vrestore_emulated PUBLIC ${VRESTORE_SANITIZERS} -fno-omit-frame-pointer -g)
  target_link_options(vrestore_emulated PUBLIC ${VRESTORE_SANITIZERS})
endif()
