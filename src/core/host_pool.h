// A model's host buffer pool: where the CPU tensors of its calls get their memory (issue 10).
//
// Why: every op allocates a fresh output. Through the C library, freed blocks of the large
// feature maps stay in its heap (its mmap threshold adapts upwards), so the resident set grows to
// several times what is alive, and the memory it does hand back is faulted in (and zeroed by the
// kernel) again page by page on the next allocation: a third of EDVR-M's time at 180x320 went to
// page faults. The pool keeps freed large blocks and gives them to later allocations of about the
// same size (the next frame, the next chunk: the same layers allocate the same shapes), already
// resident. A request that no kept block fits gets a new mapping whose pages come from kept blocks
// of other sizes first: mremap moves them (page-table entries, no copy, no zeroing), splitting a
// larger block if need be. So the pool maps fresh memory only when everything it has is in use:
// its footprint is the most tensor bytes alive at once, in whole pages, and every kept block goes
// back to the OS when the last call of the model ends.
//
// Blocks of at least kPooledMinBytes are mapped with mmap (huge pages requested from 4 MiB on,
// which turns 512 page faults into one), so munmap really returns them; smaller tensors use the C
// library as before and are only counted.
//
// One pool per model, shared by concurrent calls on it behind a mutex: tensors are freed on any
// thread (OpenMP workers, a Stream's consumer, the caller after the call), so releases need the
// lock anyway, and a shared pool lets concurrent calls reuse each other's blocks. The lock is held
// for a few map operations per allocation of at least 1 MiB, nothing next to the op that fills it.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "core/execution.h"

namespace vrestore {

struct HostPoolStats {
  size_t current_bytes = 0;        // host tensors allocated through the pool and alive now
  size_t kept_bytes = 0;           // freed blocks kept for reuse now
  size_t peak_bytes = 0;           // the most tensor bytes alive at once since the first active call began
  size_t peak_reserved_bytes = 0;  // the most of (alive tensors + kept blocks), same period
};

class HostPool : public std::enable_shared_from_this<HostPool> {
 public:
  static constexpr size_t kPooledMinBytes = size_t{1} << 20;  // smaller blocks: the C library
  // By default all freed blocks are kept during a call: that costs no memory beyond the call's own
  // peak, which every frame reaches again (see above).
  static constexpr size_t kKeepAll = SIZE_MAX;

  // keep_bytes: the most freed memory kept for reuse at any time; beyond it the least recently
  // freed blocks are unmapped.
  static std::shared_ptr<HostPool> create(size_t keep_bytes = kKeepAll);
  ~HostPool();
  HostPool(const HostPool&) = delete;
  HostPool& operator=(const HostPool&) = delete;

  // `bytes` (> 0) 64-byte aligned. The deleter gives the block back to this pool (keeping it
  // alive), from any thread. Throws vrestore::Error naming the size when memory runs out.
  std::shared_ptr<void> allocate(size_t bytes);

  // A call of the model begins / ends (calls may overlap). The first active call starts new peaks;
  // when the last one ends every kept block is unmapped, and blocks freed while no call is active
  // are unmapped at once: between calls the pool holds nothing.
  void begin_call();
  void end_call();

  HostPoolStats stats() const;

 private:
  explicit HostPool(size_t keep_bytes) : keep_limit_(keep_bytes) {}

  // A block built from moved pages is one kernel mapping per piece (a run of pages moved together),
  // and pieces of pieces when later blocks are built from its pages: a freed block of more pieces
  // than this is unmapped rather than kept, so that the process's mappings stay far below the
  // kernel's limit (vm.max_map_count, 65530 by default) however long a call runs.
  static constexpr size_t kMaxPieces = 32;

  // The byte lengths of a block's pieces, in address order; they sum to its capacity.
  using Pieces = std::vector<size_t>;

  struct Kept {
    void* block;
    uint64_t freed_at;  // release counter, for least-recently-freed eviction
    Pieces pieces;
  };

  // A kept block of at least `capacity` and not much more (its size in `got`, its pieces in
  // `pieces`), or nullptr; mutex held.
  void* take_kept(size_t capacity, size_t& got, Pieces& pieces);
  void unmap_oldest_kept();  // kept_ not empty; mutex held
  // Moves pages of kept blocks onto [dest, dest + bytes) of a fresh mapping (page-aligned, page
  // multiple), as many as there are; returns the bytes filled (the rest stays fresh) and appends the
  // moved pieces to `pieces`. mutex held.
  size_t move_kept_pages(char* dest, size_t bytes, Pieces& pieces);
  void release(void* block, size_t capacity, size_t bytes, const Pieces& pieces);
  void release_small(void* block, size_t bytes);
  void add_current(size_t bytes);

  const size_t keep_limit_;
  mutable std::mutex mutex_;
  std::multimap<size_t, Kept> kept_;  // capacity -> block; guarded by mutex_
  uint64_t releases_ = 0;             // guarded by mutex_
  int active_calls_ = 0;              // guarded by mutex_
  // Counters, read by stats() and updated without the lock where small tensors come and go:
  // current: tensor bytes alive (small ones included); small: those of small tensors; mapped:
  // capacities of the pool's mappings (alive and kept); kept: capacities of kept blocks.
  std::atomic<size_t> current_{0}, small_{0}, mapped_{0}, kept_bytes_{0}, peak_{0}, peak_reserved_{0};
};

// One call of a CPU model on this thread: until the scope ends, host tensors allocated on this thread
// come from `pool`, and the pool knows a call is running (begin_call / end_call). The public API opens
// one per Model call; benchmarks that time a model class directly open one per timed call, so that
// they measure the memory behaviour users get.
class HostPoolCall {
 public:
  explicit HostPoolCall(std::shared_ptr<HostPool> pool);
  ~HostPoolCall();
  HostPoolCall(const HostPoolCall&) = delete;
  HostPoolCall& operator=(const HostPoolCall&) = delete;

 private:
  static Execution with_pool(HostPool* pool);

  std::shared_ptr<HostPool> pool_;
  ExecutionScope scope_;
};

}  // namespace vrestore
