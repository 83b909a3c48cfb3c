#include "core/host_pool.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstdlib>
#include <iterator>
#include <utility>

#include "core/check.h"

namespace vrestore {
namespace {

constexpr size_t kPage = 4096;
constexpr size_t kHugePage = size_t{2} << 20;
// From here on a block is made of whole huge pages: one fault per 2 MiB instead of 512. Below it
// the rounding would waste too large a share of the block.
constexpr size_t kHugeMinBytes = size_t{4} << 20;

size_t round_to(size_t value, size_t multiple) { return (value + multiple - 1) / multiple * multiple; }

// What a request of `bytes` maps: whole pages, or whole huge pages for large blocks.
size_t capacity_for(size_t bytes) { return round_to(bytes, bytes >= kHugeMinBytes ? kHugePage : kPage); }

void update_max(std::atomic<size_t>& peak, size_t value) {
  size_t seen = peak.load(std::memory_order_relaxed);
  while (value > seen && !peak.compare_exchange_weak(seen, value, std::memory_order_relaxed)) {
  }
}

[[noreturn]] void out_of_memory(size_t bytes) {
  throw Error(concat("tensor: out of memory allocating ", bytes, " bytes of host memory"), ErrorCode::OutOfMemory);
}

// A fresh mapping of `capacity` bytes; huge-page blocks start on a huge-page boundary so that the
// kernel can back them with huge pages (the surplus of the larger mapping is unmapped again).
void* map_block(size_t capacity) {
  const bool huge = capacity >= kHugeMinBytes;
  const size_t length = huge ? capacity + kHugePage : capacity;
  void* raw = mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) out_of_memory(capacity);
  if (!huge) return raw;
  const uintptr_t start = reinterpret_cast<uintptr_t>(raw);
  const uintptr_t aligned = round_to(start, kHugePage);
  if (aligned > start) munmap(raw, aligned - start);
  const size_t tail = (start + length) - (aligned + capacity);
  if (tail) munmap(reinterpret_cast<void*>(aligned + capacity), tail);
  void* block = reinterpret_cast<void*>(aligned);
  madvise(block, capacity, MADV_HUGEPAGE);  // advice only: without THP the block just has small pages
  return block;
}

}  // namespace

std::shared_ptr<HostPool> HostPool::create(size_t keep_bytes) {
  return std::shared_ptr<HostPool>(new HostPool(keep_bytes));
}

HostPool::~HostPool() {
  // Every alive block holds the pool, so only kept blocks remain here.
  for (auto& [capacity, kept] : kept_) munmap(kept.block, capacity);
}

std::shared_ptr<void> HostPool::allocate(size_t bytes) {
  std::shared_ptr<HostPool> self = shared_from_this();
  if (bytes < kPooledMinBytes) {
    void* p = std::aligned_alloc(64, round_to(bytes == 0 ? 1 : bytes, 64));
    if (!p) out_of_memory(bytes);
    small_.fetch_add(bytes, std::memory_order_relaxed);
    add_current(bytes);
    update_max(peak_reserved_, small_.load(std::memory_order_relaxed) + mapped_.load(std::memory_order_relaxed));
    return std::shared_ptr<void>(p, [self, bytes](void* q) { self->release_small(q, bytes); });
  }
  const size_t capacity = capacity_for(bytes);
  void* block = nullptr;
  size_t got = capacity;
  Pieces pieces;
  {
    std::lock_guard lock(mutex_);
    block = take_kept(capacity, got, pieces);
    if (!block) {
      // No kept block fits: a new mapping, filled with the pages of kept blocks of other sizes
      // first (moved, still resident), so that only what no kept block has left is fresh memory.
      block = map_block(capacity);
      const size_t reused = move_kept_pages(static_cast<char*>(block), capacity, pieces);
      if (reused < capacity) pieces.push_back(capacity - reused);  // the fresh rest
      mapped_.fetch_add(capacity - reused, std::memory_order_relaxed);
    }
  }
  add_current(bytes);
  update_max(peak_reserved_, small_.load(std::memory_order_relaxed) + mapped_.load(std::memory_order_relaxed));
  return std::shared_ptr<void>(
      block, [self, got, bytes, pieces = std::move(pieces)](void* q) { self->release(q, got, bytes, pieces); });
}

void HostPool::add_current(size_t bytes) {
  update_max(peak_, current_.fetch_add(bytes, std::memory_order_relaxed) + bytes);
}

void* HostPool::take_kept(size_t capacity, size_t& got, Pieces& pieces) {
  // Best fit, and only a close one: a much larger block would keep its unused tail resident.
  auto it = kept_.lower_bound(capacity);
  if (it == kept_.end() || it->first > capacity + capacity / 8) return nullptr;
  void* block = it->second.block;
  got = it->first;
  pieces = std::move(it->second.pieces);
  kept_bytes_.fetch_sub(it->first, std::memory_order_relaxed);
  kept_.erase(it);
  return block;
}

void HostPool::unmap_oldest_kept() {
  // Least recently freed first: the recent ones are those the next frame will ask for.
  auto oldest = kept_.begin();
  for (auto it = kept_.begin(); it != kept_.end(); ++it)
    if (it->second.freed_at < oldest->second.freed_at) oldest = it;
  const size_t capacity = oldest->first;
  munmap(oldest->second.block, capacity);
  mapped_.fetch_sub(capacity, std::memory_order_relaxed);
  kept_bytes_.fetch_sub(capacity, std::memory_order_relaxed);
  kept_.erase(oldest);
}

size_t HostPool::move_kept_pages(char* dest, size_t bytes, Pieces& pieces) {
  size_t filled = 0;
  while (filled < bytes && !kept_.empty()) {
    const size_t rest = bytes - filled;
    // The smallest kept block that covers the rest, else the largest whole one: few moves, and
    // whole huge pages where the blocks have them (mremap then moves page-table entries only).
    auto it = kept_.lower_bound(rest);
    if (it == kept_.end()) it = std::prev(kept_.end());
    const size_t donor_capacity = it->first;
    Kept donor = std::move(it->second);
    const size_t n = std::min(donor_capacity, rest);
    // Moves the donor's first n bytes onto [dest + filled, ...), replacing the untouched pages there
    // (one mremap per piece: a call may not span mappings).
    size_t moved = 0, i = 0;
    while (moved < n) {
      const size_t length = std::min(donor.pieces[i], n - moved);
      if (mremap(static_cast<char*>(donor.block) + moved, length, length, MREMAP_MAYMOVE | MREMAP_FIXED,
                 dest + filled + moved) == MAP_FAILED)
        break;
      pieces.push_back(length);
      moved += length;
      if (length < donor.pieces[i]) {  // a piece cut in two: its tail stays with the donor
        donor.pieces[i] -= length;
        break;
      }
      ++i;
    }
    kept_.erase(it);
    kept_bytes_.fetch_sub(moved, std::memory_order_relaxed);
    filled += moved;
    if (moved < donor_capacity) {  // the donor's rest stays kept
      donor.pieces.erase(donor.pieces.begin(), donor.pieces.begin() + static_cast<std::ptrdiff_t>(i));
      kept_.emplace(donor_capacity - moved,
                    Kept{static_cast<char*>(donor.block) + moved, donor.freed_at, std::move(donor.pieces)});
    }
    if (moved < n) break;  // mremap refused (e.g. at the mapping limit): the rest stays fresh
  }
  return filled;
}

void HostPool::release_small(void* block, size_t bytes) {
  std::free(block);
  small_.fetch_sub(bytes, std::memory_order_relaxed);
  current_.fetch_sub(bytes, std::memory_order_relaxed);
}

void HostPool::release(void* block, size_t capacity, size_t bytes, const Pieces& pieces) {
  current_.fetch_sub(bytes, std::memory_order_relaxed);
  std::unique_lock lock(mutex_);
  if (active_calls_ == 0 || capacity > keep_limit_ || pieces.size() > kMaxPieces) {
    lock.unlock();
    munmap(block, capacity);
    mapped_.fetch_sub(capacity, std::memory_order_relaxed);
    return;
  }
  while (kept_bytes_.load(std::memory_order_relaxed) + capacity > keep_limit_) unmap_oldest_kept();
  kept_.emplace(capacity, Kept{block, ++releases_, pieces});
  kept_bytes_.fetch_add(capacity, std::memory_order_relaxed);
}

void HostPool::begin_call() {
  std::lock_guard lock(mutex_);
  if (active_calls_++ > 0) return;
  peak_.store(current_.load(std::memory_order_relaxed), std::memory_order_relaxed);
  peak_reserved_.store(small_.load(std::memory_order_relaxed) + mapped_.load(std::memory_order_relaxed),
                       std::memory_order_relaxed);
}

void HostPool::end_call() {
  std::lock_guard lock(mutex_);
  if (--active_calls_ > 0) return;
  for (auto& [capacity, kept] : kept_) {
    munmap(kept.block, capacity);
    mapped_.fetch_sub(capacity, std::memory_order_relaxed);
  }
  kept_.clear();
  kept_bytes_.store(0, std::memory_order_relaxed);
}

HostPoolStats HostPool::stats() const {
  HostPoolStats s;
  s.current_bytes = current_.load(std::memory_order_relaxed);
  s.kept_bytes = kept_bytes_.load(std::memory_order_relaxed);
  s.peak_bytes = peak_.load(std::memory_order_relaxed);
  s.peak_reserved_bytes = peak_reserved_.load(std::memory_order_relaxed);
  return s;
}

Execution HostPoolCall::with_pool(HostPool* pool) {
  pool->begin_call();  // before the scope exists, so that the call's first allocation sees it begun
  Execution e;
  e.host_pool = pool;
  return e;
}

HostPoolCall::HostPoolCall(std::shared_ptr<HostPool> pool) : pool_(std::move(pool)), scope_(with_pool(pool_.get())) {}

HostPoolCall::~HostPoolCall() { pool_->end_call(); }

}  // namespace vrestore
