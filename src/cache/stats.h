// The fallback cache's counters and gauges, as plain atomics the service exports to Prometheus
// (read them with .load(); relaxed ordering is enough for metrics).
#pragma once

#include <atomic>
#include <cstdint>

namespace hir::cache {

struct CacheStats {
  // Lookups, counted once per lookup whichever level answered.
  std::atomic<uint64_t> hits{0};          // fresh_hit lookups answered (counter)
  std::atomic<uint64_t> stale_serves{0};  // stale_if_error lookups answered (counter)
  std::atomic<uint64_t> misses{0};        // lookups neither level could answer (counter)
  std::atomic<uint64_t> stores{0};        // responses stored (counter)
  // The in-process level.
  std::atomic<uint64_t> evictions{0};  // entries dropped for the byte budget (counter)
  std::atomic<uint64_t> expirations{0};  // entries dropped past their stale window (counter)
  std::atomic<uint64_t> rejected{0};   // values larger than a shard's budget, not kept (counter)
  std::atomic<int64_t> bytes{0};       // bytes held (gauge)
  std::atomic<int64_t> entries{0};     // entries held (gauge)
  // The Redis level.
  std::atomic<uint64_t> redis_hits{0};        // usable values read (counter)
  std::atomic<uint64_t> redis_misses{0};      // absent, expired or unreadable values (counter)
  std::atomic<uint64_t> redis_errors{0};      // failed connects and commands (counter)
  std::atomic<uint64_t> redis_skipped{0};     // lookups/writes skipped: down, backing off or busy (counter)
  std::atomic<uint64_t> redis_reconnects{0};  // connections made after a failure (counter)
  std::atomic<uint64_t> redis_writes{0};      // SETs acknowledged (counter)
  std::atomic<uint64_t> redis_write_drops{0}; // SETs dropped: queue full or Redis down (counter)
  std::atomic<bool> redis_up{false};          // the last Redis operation worked (gauge)
};

}  // namespace hir::cache
