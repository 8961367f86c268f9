// A small metrics registry with the Prometheus text exposition 0.0.4 (API.md §10.3).
//
// Hot paths only ever write to their own thread's shard: a thread gets a shard on its first
// increment (one registry lock, once per thread), and every later increment is a relaxed load
// and store on memory no other thread writes — no lock, no shared read-modify-write. A scrape
// sums the shards. A thread's shard outlives it and is handed to the next new thread, so counters
// never go back and threads that come and go do not grow the registry.
//
// Series have fixed label sets: a family's label values are either enumerated when it is
// declared (`counter_vec`: unknown values fall back to a named value) or looked up per call
// from a bounded set the caller guarantees (`dynamic_*`, e.g. route templates × status codes;
// the lookup is cached in the calling thread's shard). A registry holds at most
// `max_slots` slots; a series that does not fit is counted nowhere and logged once.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace parley::core::metrics {

class registry;
struct shard;

// Prometheus' default buckets for durations in seconds.
inline constexpr double default_seconds_buckets[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                     0.5,   1,    2.5,   5,    10};

// One counter series.
class counter {
public:
    counter() = default;
    void inc(std::uint64_t n = 1) const noexcept;

private:
    friend class registry;
    counter(registry* r, std::uint32_t slot) : r_(r), slot_(slot) {}
    registry* r_ = nullptr;
    std::uint32_t slot_ = 0;
};

// One gauge series moved by increments from any thread (summed per shard at scrape time).
class gauge {
public:
    gauge() = default;
    void add(std::int64_t n) const noexcept;
    void inc() const noexcept { add(1); }
    void dec() const noexcept { add(-1); }

private:
    friend class registry;
    gauge(registry* r, std::uint32_t slot) : r_(r), slot_(slot) {}
    registry* r_ = nullptr;
    std::uint32_t slot_ = 0;
};

// One histogram series: a slot per bucket (+Inf included) and one for the sum. The scrape
// cumulates the buckets, so `_bucket` is non-decreasing and `+Inf` equals `_count`.
class histogram {
public:
    histogram() = default;
    void observe(double v) const noexcept;

private:
    friend class registry;
    histogram(registry* r, std::uint32_t slot, std::span<const double> bounds)
        : r_(r), slot_(slot), bounds_(bounds) {}
    registry* r_ = nullptr;
    std::uint32_t slot_ = 0;
    std::span<const double> bounds_;
};

// A counter with one label whose values are fixed at declaration.
class counter_vec {
public:
    counter_vec() = default;
    // The series of `value`; values not declared count under the fallback value (or nowhere
    // when the family has none).
    void inc(std::string_view value, std::uint64_t n = 1) const noexcept;
    [[nodiscard]] counter at(std::string_view value) const noexcept;

private:
    friend class registry;
    std::unordered_map<std::string_view, counter> by_value_;  // views of the caller's values
    counter fallback_;
};

// A counter family whose label values are only known per call (bounded by the caller).
class dynamic_counter {
public:
    dynamic_counter() = default;
    void inc(std::initializer_list<std::string_view> values, std::uint64_t n = 1) const;

private:
    friend class registry;
    dynamic_counter(registry* r, std::uint32_t family) : r_(r), family_(family) {}
    registry* r_ = nullptr;
    std::uint32_t family_ = 0;
};

// A histogram family whose label values are only known per call (bounded by the caller).
class dynamic_histogram {
public:
    dynamic_histogram() = default;
    void observe(std::initializer_list<std::string_view> values, double v) const;

private:
    friend class registry;
    dynamic_histogram(registry* r, std::uint32_t family, std::span<const double> bounds)
        : r_(r), family_(family), bounds_(bounds) {}
    registry* r_ = nullptr;
    std::uint32_t family_ = 0;
    std::span<const double> bounds_;
};

// A sample a collector reports at scrape time (gauges read from elsewhere: pool, /proc).
struct sample {
    std::vector<std::pair<std::string, std::string>> labels;
    double value = 0;
};
using collect_fn = std::function<std::vector<sample>()>;

// Removes its collector when destroyed (the collected object must outlive the handle).
class collector_handle {
public:
    collector_handle() = default;
    collector_handle(registry* r, std::uint32_t family, std::uint64_t id) noexcept
        : r_(r), family_(family), id_(id) {}
    collector_handle(collector_handle&& o) noexcept { *this = std::move(o); }
    collector_handle& operator=(collector_handle&& o) noexcept;
    ~collector_handle() { reset(); }
    void reset() noexcept;

private:
    registry* r_ = nullptr;
    std::uint32_t family_ = 0;
    std::uint64_t id_ = 0;
};

class registry {
public:
    static constexpr std::uint32_t chunk_slots = 4096;
    static constexpr std::uint32_t max_chunks = 16;
    static constexpr std::uint32_t max_slots = chunk_slots * max_chunks;

    registry();
    ~registry();
    registry(const registry&) = delete;
    registry& operator=(const registry&) = delete;

    // Declarations (not on hot paths; names and label names are [a-zA-Z_][a-zA-Z0-9_]*).
    // Families appear in the exposition in declaration order.
    counter add_counter(std::string_view name, std::string_view help);
    gauge add_gauge(std::string_view name, std::string_view help);
    histogram add_histogram(std::string_view name, std::string_view help,
                            std::span<const double> bounds = default_seconds_buckets);
    // `values` and `fallback` must be static (string literals): the family keeps views of them.
    counter_vec add_counter_vec(std::string_view name, std::string_view help,
                                std::string_view label, std::span<const std::string_view> values,
                                std::string_view fallback);
    dynamic_counter add_dynamic_counter(std::string_view name, std::string_view help,
                                        std::vector<std::string> labels);
    dynamic_histogram add_dynamic_histogram(
        std::string_view name, std::string_view help, std::vector<std::string> labels,
        std::span<const double> bounds = default_seconds_buckets);
    // A gauge whose samples collectors report at scrape time; without a collector the family
    // is declared with no samples.
    void add_collected_gauge(std::string_view name, std::string_view help,
                             std::string_view type = "gauge");
    [[nodiscard]] collector_handle add_collector(std::string_view family, collect_fn fn);

    // The whole exposition (text format 0.0.4). Serialized: one scrape at a time.
    [[nodiscard]] std::string scrape();

    // Shards made so far (tests).
    [[nodiscard]] std::size_t shard_count() const;

private:
    friend class counter;
    friend class gauge;
    friend class histogram;
    friend class dynamic_counter;
    friend class dynamic_histogram;
    friend class collector_handle;

    enum class kind { counter, gauge, histogram, collected };
    struct series {
        std::vector<std::string> values;
        std::uint32_t slot = 0;
    };
    struct family {
        std::string name;
        std::string help;
        kind k = kind::counter;
        std::string collected_type;
        std::vector<std::string> labels;
        std::vector<double> bounds;                            // histograms
        std::vector<series> all;                               // guarded by mutex_
        std::unordered_map<std::string, std::uint32_t> index;  // joined values -> slot
        std::vector<std::pair<std::uint64_t, collect_fn>> collectors;
    };

    shard& local() noexcept;
    shard& attach() noexcept;
    std::uint32_t family_of(std::string_view name, std::string_view help, kind k,
                            std::vector<std::string> labels, std::span<const double> bounds);
    // Finds or creates a series; `none` when out of slots.
    std::uint32_t series_slot(std::uint32_t family, std::span<const std::string_view> values);
    std::uint32_t cached_slot(std::uint32_t family, std::initializer_list<std::string_view> values);
    std::uint32_t width(const family& f) const noexcept;
    void remove_collector(std::uint32_t family, std::uint64_t id) noexcept;

public:
    // A thread that counted here ended: its shard (and its counts) serve the next new thread.
    void release(shard* s) noexcept;

private:
    static constexpr std::uint32_t none = 0xffffffffu;

    const std::uint64_t id_;
    mutable std::mutex mutex_;  // families, series, shards list, collectors
    std::mutex scrape_mutex_;   // one scrape at a time (counters never seen to go back)
    std::vector<std::unique_ptr<family>> families_;
    std::vector<std::unique_ptr<shard>> shards_;
    std::vector<shard*> free_;  // shards of ended threads, for new threads
    shard* exiting_ = nullptr;  // for increments made while a thread ends
    std::uint32_t next_slot_ = 0;
    std::uint64_t next_collector_ = 1;
    bool warned_full_ = false;
};

// Text exposition helpers (exposed for tests): label values escape `\`, `"` and newlines;
// HELP text escapes `\` and newlines; numbers use Go's forms (+Inf, -Inf, NaN).
[[nodiscard]] std::string escape_label_value(std::string_view v);
[[nodiscard]] std::string escape_help(std::string_view v);
[[nodiscard]] std::string format_value(double v);

}  // namespace parley::core::metrics
