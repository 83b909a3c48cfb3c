// The emulator's machinery: fibers, the block scheduler with its barrier/warp rendezvous and
// checks, and the runtime API's error reporting (the rest of the runtime: cuda_runtime.cpp).
//
// Threads: a grid runs on the host thread that launches it, with that thread's fibers and
// built-in variables (all thread_local), so host threads may launch concurrently, as with two
// streams on a GPU. The last error is per host thread, as in CUDA; the schedule is process-wide.
#include "cuda_emulator.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#endif

// ---- x86-64 context switch -----------------------------------------------------------------------
// Saves the callee-saved registers and the FP control words on the current stack, stores the stack
// pointer in *save_sp and resumes the context whose stack pointer is next_sp. ucontext would also
// work but makes a signal-mask system call on every switch, which dominates small kernels.
#if !defined(__x86_64__)
#error "the CUDA emulator's context switch is written for x86-64"
#endif
extern "C" void cuemu_switch(void** save_sp, void* next_sp);
asm(R"(
  .text
  .globl cuemu_switch
  .type cuemu_switch, @function
cuemu_switch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  subq $8, %rsp
  stmxcsr (%rsp)
  fnstcw 4(%rsp)
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  ldmxcsr (%rsp)
  fldcw 4(%rsp)
  addq $8, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size cuemu_switch, .-cuemu_switch
  .section .note.GNU-stack, "", @progbits
  .text
)");

namespace cuemu {
namespace {

constexpr unsigned kMaxThreadsPerBlock = 1024;
constexpr size_t kMaxDynamicShared = 48 * 1024;  // without the cudaFuncSetAttribute opt-in
// Virtual size; only touched pages cost memory. Generous because sanitizers grow frames.
constexpr size_t kStackBytes = 256 * 1024;

enum class State { Runnable, AtBarrier, AtWarp, Done };

struct WarpRequest {
  WarpOp op;
  unsigned mask;
  uint64_t bits;
  int arg;
  int width;
  uint64_t result;
};

struct Fiber {
  void* sp = nullptr;
  char* stack = nullptr;  // lowest usable address (a guard page lies below)
  uint3 tid{};
  State state = State::Runnable;
  std::source_location site;  // where the thread waits
  WarpRequest warp{};
};

// Process-wide, so that `--schedule` applies to grids launched from any host thread.
std::atomic<Schedule> g_schedule = [] {
  const char* s = std::getenv("VRESTORE_EMU_SCHEDULE");
  if (s && std::string(s) == "reverse") return Schedule::Reverse;
  if (s && std::string(s) == "random") return Schedule::Random;
  return Schedule::Forward;
}();

// One per host thread: the grid that thread is running and its last error.
struct Emulator {
  std::mt19937 rng{12345};
  std::vector<char*> stack_pool;  // reused across blocks and launches

  // The block being run.
  std::vector<Fiber> fibers;
  std::vector<int> woken;  // threads made runnable while another thread runs
  Fiber* current = nullptr;
  void* scheduler_sp = nullptr;
  detail::Body body = nullptr;
  void* call = nullptr;
  unsigned char* dynamic_smem = nullptr;
  bool failed = false;
#if defined(__SANITIZE_ADDRESS__)
  void* asan_fake_stack = nullptr;
  bool abandoned_frames = false;  // a failed block left poisoned frames on its fibers' stacks
#endif

  std::string kernel;  // name of the running kernel, for messages
  cudaError_t last_error = cudaSuccess;
  bool launch_failed = false;  // last_error came from a launch, so synchronizing reports it too
  std::string message;
  Stats stats;

  Emulator() {
    if (const char* seed = std::getenv("VRESTORE_EMU_SEED")) rng.seed(unsigned(std::strtoul(seed, nullptr, 10)));
  }
  // A host thread that launched and exits returns its fiber stacks (guard page included).
  ~Emulator() {
    const size_t page = size_t(sysconf(_SC_PAGESIZE));
    for (char* stack : stack_pool) {
#if defined(__SANITIZE_ADDRESS__)
      ASAN_UNPOISON_MEMORY_REGION(stack, kStackBytes);  // no stale poison for a later mapping there
#endif
      munmap(stack - page, kStackBytes + page);
    }
  }
};

Emulator& emu() {
  static thread_local Emulator e;
  return e;
}

std::string where(const std::source_location& s) {
  return std::string(s.file_name()) + ":" + std::to_string(s.line());
}
bool same_site(const std::source_location& a, const std::source_location& b) {
  return a.line() == b.line() && a.column() == b.column() && std::strcmp(a.file_name(), b.file_name()) == 0;
}
std::string thread_name(const Fiber& f) {
  return "thread (" + std::to_string(f.tid.x) + "," + std::to_string(f.tid.y) + "," + std::to_string(f.tid.z) +
         ") of block (" + std::to_string(blockIdx.x) + "," + std::to_string(blockIdx.y) + "," +
         std::to_string(blockIdx.z) + ")";
}
const char* op_name(WarpOp op) {
  static const char* names[] = {"__syncwarp", "__shfl_sync", "__shfl_up_sync", "__shfl_down_sync",
                                "__shfl_xor_sync", "__ballot_sync", "__any_sync", "__all_sync"};
  return names[int(op)];
}

void record_error(cudaError_t code, const std::string& what) {
  Emulator& e = emu();
  e.last_error = code;
  e.launch_failed = true;
  e.message = e.kernel.empty() ? what : e.kernel + ": " + what;
  std::fprintf(stderr, "[cuda emulator] %s\n", e.message.c_str());
}

// ---- fibers --------------------------------------------------------------------------------------
char* allocate_stack() {
  const size_t page = size_t(sysconf(_SC_PAGESIZE));
  void* base = mmap(nullptr, kStackBytes + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (base == MAP_FAILED) {
    std::perror("[cuda emulator] mmap of a fiber stack");
    std::abort();
  }
  mprotect(base, page, PROT_NONE);  // guard page: a stack overflow faults instead of corrupting
  return static_cast<char*>(base) + page;
}

void switch_to_scheduler();

// Thrown on the fiber that found an error, so that its frames unwind (no leaked temporaries).
struct BlockAborted {};

[[noreturn]] void fiber_main() {
#if defined(__SANITIZE_ADDRESS__)
  __sanitizer_finish_switch_fiber(nullptr, nullptr, nullptr);
#endif
  Emulator& e = emu();
  try {
    e.body(e.call);
  } catch (const BlockAborted&) {
  }
  e.current->state = State::Done;
  ++e.stats.threads;
  switch_to_scheduler();
  __builtin_unreachable();
}

// Builds the stack cuemu_switch expects to resume: FP control words, six zeroed registers, then
// fiber_main as the return address (16-byte aligned so that fiber_main starts like a called function).
void* initial_stack_pointer(char* stack) {
#if defined(__SANITIZE_ADDRESS__)
  // fiber_main never returns, so the previous fiber's frame of it is still poisoned.
  ASAN_UNPOISON_MEMORY_REGION(stack + kStackBytes - 4096, 4096);
#endif
  auto* top = reinterpret_cast<uint64_t*>(stack + kStackBytes);
  *--top = 0;                                                   // fiber_main's never-used return address
  *--top = reinterpret_cast<uint64_t>(&fiber_main);
  for (int i = 0; i < 6; ++i) *--top = 0;                       // rbp rbx r12 r13 r14 r15
  *--top = 0x1F80ull | (0x037Full << 32);                       // default MXCSR, x87 control word
  return top;
}

void switch_to_fiber(Fiber& f) {
  Emulator& e = emu();
  e.current = &f;
  threadIdx = f.tid;
  ++e.stats.switches;
#if defined(__SANITIZE_ADDRESS__)
  __sanitizer_start_switch_fiber(&e.asan_fake_stack, f.stack, kStackBytes);
#endif
  cuemu_switch(&e.scheduler_sp, f.sp);
#if defined(__SANITIZE_ADDRESS__)
  __sanitizer_finish_switch_fiber(e.asan_fake_stack, nullptr, nullptr);
#endif
  e.current = nullptr;
}

void switch_to_scheduler() {
  Emulator& e = emu();
  Fiber& f = *e.current;
#if defined(__SANITIZE_ADDRESS__)
  void* fake_stack = nullptr;
  // A finished fiber's stack is never resumed, so ASan may drop its fake frames (nullptr).
  __sanitizer_start_switch_fiber(f.state == State::Done ? nullptr : &fake_stack, nullptr, 0);
#endif
  cuemu_switch(&f.sp, e.scheduler_sp);
#if defined(__SANITIZE_ADDRESS__)
  __sanitizer_finish_switch_fiber(fake_stack, nullptr, nullptr);
#endif
}

// Called on a fiber that found an error: the block is abandoned (the other fibers are never resumed).
[[noreturn]] void fail_block(cudaError_t code, const std::string& what) {
  record_error(code, what);
  emu().failed = true;
  throw BlockAborted{};
}

// ---- scheduling ----------------------------------------------------------------------------------
void order(std::vector<int>& ids) {
  Emulator& e = emu();
  switch (g_schedule.load()) {
    case Schedule::Forward: std::sort(ids.begin(), ids.end()); break;
    case Schedule::Reverse: std::sort(ids.rbegin(), ids.rend()); break;
    case Schedule::Random: std::shuffle(ids.begin(), ids.end(), e.rng); break;
  }
}

// Every live thread waits at __syncthreads: release them if they wait at the same one.
// Otherwise the block can never finish; say why.
std::string release_or_explain() {
  Emulator& e = emu();
  const Fiber* first_barrier = nullptr;
  const Fiber* exited = nullptr;
  const Fiber* other = nullptr;
  for (const Fiber& f : e.fibers) {
    if (f.state == State::Done) {
      exited = exited ? exited : &f;
    } else if (f.state == State::AtBarrier) {
      if (!first_barrier) first_barrier = &f;
      else if (!same_site(f.site, first_barrier->site))
        return "barrier divergence: " + thread_name(*first_barrier) + " waits at __syncthreads " +
               where(first_barrier->site) + " but " + thread_name(f) + " at " + where(f.site);
    } else {
      other = other ? other : &f;
    }
  }
  if (other)
    return "deadlock: " + thread_name(*other) + " waits at " + op_name(other->warp.op) + " " + where(other->site) +
           " (mask 0x" + [&] { char b[16]; std::snprintf(b, sizeof b, "%08x", other->warp.mask); return std::string(b); }() +
           ") for lanes that exited or wait elsewhere";
  if (exited)
    return "barrier divergence: " + thread_name(*first_barrier) + " waits at __syncthreads " +
           where(first_barrier->site) + " but " + thread_name(*exited) + " has exited";
  for (Fiber& f : e.fibers) f.state = State::Runnable;
  return {};
}

// Runs one block to completion; returns false after recording an error.
bool run_block(unsigned nthreads) {
  Emulator& e = emu();
  e.fibers.assign(nthreads, Fiber{});
  while (e.stack_pool.size() < nthreads) e.stack_pool.push_back(allocate_stack());
#if defined(__SANITIZE_ADDRESS__)
  if (e.abandoned_frames)
    for (char* stack : e.stack_pool) ASAN_UNPOISON_MEMORY_REGION(stack, kStackBytes);
  e.abandoned_frames = false;
#endif
  std::vector<int> ready(nthreads);
  for (unsigned i = 0; i < nthreads; ++i) {
    Fiber& f = e.fibers[i];
    f.stack = e.stack_pool[i];
    f.sp = initial_stack_pointer(f.stack);
    f.tid = make_uint3(i % blockDim.x, i / blockDim.x % blockDim.y, i / (blockDim.x * blockDim.y));
    ready[i] = int(i);
  }
  bool ok = true;
  for (;;) {
    order(ready);
    for (int id : ready) {
      if (e.fibers[id].state != State::Runnable) continue;
      switch_to_fiber(e.fibers[id]);
      if (e.failed) break;
    }
    if (e.failed) { ok = false; break; }
    ready.swap(e.woken);
    e.woken.clear();
    if (!ready.empty()) continue;
    bool all_done = std::all_of(e.fibers.begin(), e.fibers.end(), [](const Fiber& f) { return f.state == State::Done; });
    if (all_done) break;
    std::string why = release_or_explain();
    if (!why.empty()) {
      record_error(cudaErrorLaunchFailure, why);
      ok = false;
      break;
    }
    for (unsigned i = 0; i < nthreads; ++i) ready.push_back(int(i));
  }
#if defined(__SANITIZE_ADDRESS__)
  e.abandoned_frames = !ok;
#endif
  ++e.stats.blocks;
  return ok;
}

}  // namespace

Schedule schedule() { return g_schedule.load(); }
void set_schedule(Schedule s) { g_schedule.store(s); }
const char* schedule_name(Schedule s) {
  return s == Schedule::Forward ? "forward" : s == Schedule::Reverse ? "reverse" : "random";
}
std::string last_error_message() { return emu().message; }
Stats stats() { return emu().stats; }

namespace detail {

cudaError_t set_error(cudaError_t code) {
  if (code != cudaSuccess) {
    emu().last_error = code;
    emu().launch_failed = false;
  }
  return code;
}

cudaError_t launch_error() { return emu().launch_failed ? emu().last_error : cudaSuccess; }

void run_grid(const char* kernel_name, dim3 grid, dim3 block, size_t dynamic_smem, cudaStream_t stream, Body body,
              void* call) {
  Emulator& e = emu();
  const uint64_t nthreads = uint64_t(block.x) * block.y * block.z;
  auto dims = [](dim3 d) { return "(" + std::to_string(d.x) + "," + std::to_string(d.y) + "," + std::to_string(d.z) + ")"; };
  e.kernel = kernel_name;
  std::string bad;
  if (nthreads == 0 || nthreads > kMaxThreadsPerBlock || block.z > 64)
    bad = "block " + dims(block) + " has " + std::to_string(nthreads) + " threads; allowed 1..1024 with z <= 64";
  else if (grid.x == 0 || grid.y == 0 || grid.z == 0 || grid.y > 65535 || grid.z > 65535)
    bad = "grid " + dims(grid) + " is empty or too large";
  if (!valid_stream(stream)) {
    record_error(cudaErrorInvalidResourceHandle, "launched on a stream that does not exist (destroyed?)");
    e.kernel.clear();
    return;
  }
  if (!bad.empty() || dynamic_smem > kMaxDynamicShared) {
    if (bad.empty())
      record_error(cudaErrorInvalidValue, std::to_string(dynamic_smem) + " bytes of dynamic shared memory; more "
                   "than 48 KiB needs an opt-in the emulator does not model");
    else
      record_error(cudaErrorInvalidConfiguration, bad);
    e.kernel.clear();
    return;
  }

  // Exact size, so that ASan reports a one-element overrun; 0xFF bytes read as NaN.
  unsigned char* smem = dynamic_smem ? static_cast<unsigned char*>(std::malloc(dynamic_smem)) : nullptr;
  e.body = body;
  e.call = call;
  e.dynamic_smem = smem;
  e.failed = false;
  gridDim = grid;
  blockDim = block;

  std::vector<uint32_t> blocks(size_t(grid.x) * grid.y * grid.z);
  for (size_t i = 0; i < blocks.size(); ++i) blocks[i] = uint32_t(i);
  const Schedule block_order = g_schedule.load();
  if (block_order == Schedule::Reverse) std::reverse(blocks.begin(), blocks.end());
  if (block_order == Schedule::Random) std::shuffle(blocks.begin(), blocks.end(), e.rng);
  for (uint32_t b : blocks) {
    blockIdx = make_uint3(b % grid.x, b / grid.x % grid.y, b / (grid.x * grid.y));
    if (smem) std::memset(smem, 0xFF, dynamic_smem);
    if (!run_block(unsigned(nthreads))) break;
  }
  std::free(smem);
  e.dynamic_smem = nullptr;
  e.kernel.clear();
}

void* dynamic_shared() { return emu().dynamic_smem; }

void syncthreads(const std::source_location& site) {
  Emulator& e = emu();
  e.current->state = State::AtBarrier;
  e.current->site = site;
  switch_to_scheduler();
}

uint64_t warp_rendezvous(WarpOp op, unsigned mask, uint64_t bits, int arg, int width, const std::source_location& site) {
  Emulator& e = emu();
  Fiber& me = *e.current;
  const int linear = int(&me - e.fibers.data());
  const int lane = linear % warpSize;
  const int warp_base = linear - lane;
  auto hex = [](unsigned m) { char b[16]; std::snprintf(b, sizeof b, "0x%08x", m); return std::string(b); };
  // Built only on the error paths: a waiting fiber must not own heap memory, since a failed block's
  // fibers are abandoned where they wait.
  auto call = [&] { return std::string(op_name(op)) + " at " + where(site) + " with mask " + hex(mask); };

  if (!((mask >> lane) & 1u)) fail_block(cudaErrorLaunchFailure, thread_name(me) + " calls " + call() + " that excludes its own lane");
  if (width < 1 || width > warpSize || (width & (width - 1)))
    fail_block(cudaErrorLaunchFailure, thread_name(me) + " calls " + call() + " with width " + std::to_string(width));
  for (int l = 0; l < warpSize; ++l) {
    if (!((mask >> l) & 1u)) continue;
    if (warp_base + l >= int(e.fibers.size()))
      fail_block(cudaErrorLaunchFailure, thread_name(me) + " calls " + call() + " naming lane " + std::to_string(l) +
                 ", which does not exist in a block of " + std::to_string(e.fibers.size()) + " threads");
    if (e.fibers[warp_base + l].state == State::Done)
      fail_block(cudaErrorLaunchFailure, thread_name(me) + " calls " + call() + " naming lane " + std::to_string(l) + ", which has exited");
  }

  me.state = State::AtWarp;
  me.site = site;
  me.warp = WarpRequest{op, mask, bits, arg, width, 0};
  for (int l = 0; l < warpSize; ++l) {
    if (!((mask >> l) & 1u)) continue;
    const Fiber& f = e.fibers[warp_base + l];
    if (f.state != State::AtWarp || f.warp.mask != mask) {  // not there yet: wait for the last arrival
      switch_to_scheduler();
      return me.warp.result;
    }
    if (f.warp.op != op)
      fail_block(cudaErrorLaunchFailure, thread_name(me) + " calls " + call() + " while lane " + std::to_string(l) +
                 " of the mask waits at " + op_name(f.warp.op) + " " + where(f.site));
  }

  // The last lane arrived: compute every lane's result and wake the others.
  unsigned votes = 0;
  for (int l = 0; l < warpSize; ++l)
    if ((mask >> l) & 1u && e.fibers[warp_base + l].warp.bits) votes |= 1u << l;
  for (int l = 0; l < warpSize; ++l) {
    if (!((mask >> l) & 1u)) continue;
    Fiber& f = e.fibers[warp_base + l];
    WarpRequest& w = f.warp;
    const int segment = l & ~(w.width - 1);
    int src = l;
    switch (op) {
      case WarpOp::Shfl: src = segment + (w.arg & (w.width - 1)); break;
      case WarpOp::ShflUp: src = l - w.arg >= segment ? l - w.arg : l; break;
      case WarpOp::ShflDown: src = l + w.arg < segment + w.width ? l + w.arg : l; break;
      case WarpOp::ShflXor: src = (l ^ w.arg) < segment + w.width ? (l ^ w.arg) : l; break;
      default: break;
    }
    if (!((mask >> src) & 1u))
      fail_block(cudaErrorLaunchFailure, "lane " + std::to_string(l) + " reads lane " + std::to_string(src) +
                 " outside the mask in " + call());
    switch (op) {
      case WarpOp::Sync: w.result = 0; break;
      case WarpOp::Ballot: w.result = votes; break;
      case WarpOp::Any: w.result = votes != 0; break;
      case WarpOp::All: w.result = votes == mask; break;
      default: w.result = e.fibers[warp_base + src].warp.bits; break;
    }
  }
  for (int l = 0; l < warpSize; ++l) {
    if (!((mask >> l) & 1u)) continue;
    Fiber& f = e.fibers[warp_base + l];
    f.state = State::Runnable;
    if (&f != &me) e.woken.push_back(warp_base + l);
  }
  return me.warp.result;
}

}  // namespace detail
}  // namespace cuemu

// ---- runtime API: errors (per host thread, as in CUDA) --------------------------------------------
using cuemu::emu;

extern "C" {

cudaError_t cudaGetLastError(void) {
  cudaError_t e = emu().last_error;
  emu().last_error = cudaSuccess;
  emu().launch_failed = false;
  return e;
}
cudaError_t cudaPeekAtLastError(void) { return emu().last_error; }

const char* cudaGetErrorName(cudaError_t error) {
  switch (error) {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
    case cudaErrorInvalidConfiguration: return "cudaErrorInvalidConfiguration";
    case cudaErrorLaunchFailure: return "cudaErrorLaunchFailure";
    case cudaErrorInvalidDevice: return "cudaErrorInvalidDevice";
    case cudaErrorInvalidResourceHandle: return "cudaErrorInvalidResourceHandle";
    case cudaErrorNotReady: return "cudaErrorNotReady";
    case cudaErrorInvalidPitchValue: return "cudaErrorInvalidPitchValue";
    default: return "cudaError (emulated)";
  }
}
const char* cudaGetErrorString(cudaError_t error) { return cudaGetErrorName(error); }

}  // extern "C"
