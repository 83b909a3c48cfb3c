#include "cpu/weight_cache.h"

#include <cstring>
#include <list>
#include <map>
#include <mutex>
#include <tuple>
#include <vector>

namespace vrestore::cpu {
namespace {

struct Entry {
  std::vector<float> source;  // the weight values the preparation was made from
  std::shared_ptr<const void> value;
  size_t bytes = 0;
};

using Key = std::tuple<const float*, int, int64_t, int64_t, int64_t, int64_t>;  // weight, kind, shape

class WeightCache {
 public:
  std::shared_ptr<const Entry> find(const Key& key) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = index_.find(key);
    if (it == index_.end()) return nullptr;
    lru_.splice(lru_.begin(), lru_, it->second.position);  // most recently used first
    return it->second.entry;
  }

  void insert(const Key& key, std::shared_ptr<const Entry> entry) {
    std::lock_guard<std::mutex> lock(mutex_);
    erase_locked(key);
    const size_t bytes = entry->bytes;
    if (bytes > kWeightCacheBytes) return;  // never cached; the caller still uses it
    while (bytes_ + bytes > kWeightCacheBytes && !lru_.empty()) erase_locked(lru_.back());
    lru_.push_front(key);
    index_[key] = {std::move(entry), lru_.begin()};
    bytes_ += bytes;
  }

  WeightCacheStats stats() {
    std::lock_guard<std::mutex> lock(mutex_);
    return {index_.size(), bytes_};
  }

 private:
  void erase_locked(const Key& key) {
    auto it = index_.find(key);
    if (it == index_.end()) return;
    bytes_ -= it->second.entry->bytes;
    lru_.erase(it->second.position);
    index_.erase(it);
  }

  struct Slot {
    std::shared_ptr<const Entry> entry;
    std::list<Key>::iterator position;
  };
  std::mutex mutex_;
  std::map<Key, Slot> index_;
  std::list<Key> lru_;
  size_t bytes_ = 0;
};

WeightCache& cache() {
  static WeightCache* instance = new WeightCache;  // never destroyed: usable during static teardown
  return *instance;
}

}  // namespace

std::shared_ptr<const void> cached_weights_untyped(const float* weight, const WeightShape& shape, WeightPrep kind,
                                                   const std::function<std::shared_ptr<const void>(size_t&)>& make) {
  const Key key{weight, static_cast<int>(kind), shape.out_channels, shape.in_channels, shape.kernel_h, shape.kernel_w};
  const int64_t count = shape.count();
  const size_t source_bytes = static_cast<size_t>(count) * sizeof(float);
  if (std::shared_ptr<const Entry> hit = cache().find(key)) {
    if (std::memcmp(hit->source.data(), weight, source_bytes) == 0) return hit->value;
  }
  auto entry = std::make_shared<Entry>();
  entry->source.assign(weight, weight + count);
  entry->value = make(entry->bytes);
  entry->bytes += source_bytes;
  std::shared_ptr<const void> value = entry->value;
  cache().insert(key, std::move(entry));
  return value;
}

WeightCacheStats weight_cache_stats() { return cache().stats(); }

}  // namespace vrestore::cpu
