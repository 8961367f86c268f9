// Per-thread metric shards summed at scrape time, and the Prometheus text format 0.0.4.
#include "core/metrics.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>

namespace parley::core::metrics {

// One thread's slots. Only the owning thread writes them (relaxed load + store, no lock prefix);
// scrapes read them. Chunks are allocated by the owner on first use and published with release.
struct shard {
    std::atomic<std::atomic<std::uint64_t>*> chunks[registry::max_chunks] = {};
    // Owner-thread only: (family, label values) -> slot of dynamic families.
    std::unordered_map<std::string, std::uint32_t> cache;

    ~shard() {
        for (auto& c : chunks) delete[] c.load(std::memory_order_relaxed);
    }

    std::atomic<std::uint64_t>& slot(std::uint32_t i) noexcept {
        auto& holder = chunks[i / registry::chunk_slots];
        auto* c = holder.load(std::memory_order_relaxed);
        if (c == nullptr) {
            c = new std::atomic<std::uint64_t>[registry::chunk_slots]();
            holder.store(c, std::memory_order_release);
        }
        return c[i % registry::chunk_slots];
    }

    void add(std::uint32_t i, std::uint64_t n) noexcept {
        auto& a = slot(i);
        a.store(a.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    }

    [[nodiscard]] std::uint64_t read(std::uint32_t i) const noexcept {
        const auto* c = chunks[i / registry::chunk_slots].load(std::memory_order_acquire);
        return c == nullptr ? 0 : c[i % registry::chunk_slots].load(std::memory_order_relaxed);
    }
};

namespace {

std::atomic<std::uint64_t> next_registry_id{1};

// The calling thread's shard of each registry it has touched; the last one is checked first.
struct tls_entry {
    std::uint64_t registry = 0;
    shard* s = nullptr;
};
thread_local tls_entry tls_last;
thread_local bool tls_exiting = false;  // this thread's shards were handed back

// Registries alive now, so a thread that ends can hand its shards back to theirs.
std::mutex live_mutex;
std::unordered_map<std::uint64_t, registry*>& live() {
    static auto* m = new std::unordered_map<std::uint64_t, registry*>();  // outlives every thread
    return *m;
}

// The calling thread's shards; at thread exit each goes back to its registry (if that still
// exists) for the next new thread, so churning threads do not grow the registry.
struct thread_shards {
    std::vector<tls_entry> all;
    ~thread_shards() {
        tls_exiting = true;
        tls_last = {};
        std::lock_guard lock(live_mutex);
        for (const auto& e : all) {
            const auto it = live().find(e.registry);
            if (it != live().end()) it->second->release(e.s);
        }
    }
};
thread_local thread_shards tls_all;

constexpr char key_separator = '\x1f';

void observe_into(shard& s, std::uint32_t slot, std::span<const double> bounds, double v) {
    const auto it = std::lower_bound(bounds.begin(), bounds.end(), v);  // first bound >= v
    s.add(slot + static_cast<std::uint32_t>(it - bounds.begin()), 1);
    auto& sum = s.slot(slot + static_cast<std::uint32_t>(bounds.size()) + 1);
    const double now = std::bit_cast<double>(sum.load(std::memory_order_relaxed)) + v;
    sum.store(std::bit_cast<std::uint64_t>(now), std::memory_order_relaxed);
}

std::string labels_text(const std::vector<std::string>& names,
                        const std::vector<std::string>& values, std::string_view extra_name = {},
                        std::string_view extra_value = {}) {
    if (names.empty() && extra_name.empty()) return {};
    std::string out = "{";
    for (std::size_t i = 0; i < names.size(); ++i) {
        if (i > 0) out += ',';
        out += names[i];
        out += "=\"";
        out += escape_label_value(values[i]);
        out += '"';
    }
    if (!extra_name.empty()) {
        if (!names.empty()) out += ',';
        out += extra_name;
        out += "=\"";
        out += extra_value;
        out += '"';
    }
    out += '}';
    return out;
}

}  // namespace

std::string escape_label_value(std::string_view v) {
    std::string out;
    out.reserve(v.size());
    for (const char c : v) {
        if (c == '\\')
            out += "\\\\";
        else if (c == '"')
            out += "\\\"";
        else if (c == '\n')
            out += "\\n";
        else
            out += c;
    }
    return out;
}

std::string escape_help(std::string_view v) {
    std::string out;
    out.reserve(v.size());
    for (const char c : v) {
        if (c == '\\')
            out += "\\\\";
        else if (c == '\n')
            out += "\\n";
        else
            out += c;
    }
    return out;
}

std::string format_value(double v) {
    if (std::isnan(v)) return "NaN";
    if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
    char buf[64];
    if (v == std::floor(v) && std::fabs(v) < 9007199254740992.0) {
        std::snprintf(buf, sizeof buf, "%.0f", v);
        return buf;
    }
    const auto r = std::to_chars(buf, buf + sizeof buf, v);  // shortest round-trip form
    return std::string(buf, r.ptr);
}

// ---- handles

void counter::inc(std::uint64_t n) const noexcept {
    if (r_ == nullptr || slot_ == registry::none) return;
    r_->local().add(slot_, n);
}

void gauge::add(std::int64_t n) const noexcept {
    if (r_ == nullptr || slot_ == registry::none) return;
    r_->local().add(slot_, static_cast<std::uint64_t>(n));  // two's complement: sums wrap back
}

void histogram::observe(double v) const noexcept {
    if (r_ == nullptr || slot_ == registry::none) return;
    observe_into(r_->local(), slot_, bounds_, v);
}

void counter_vec::inc(std::string_view value, std::uint64_t n) const noexcept {
    at(value).inc(n);  // an unknown value without a fallback: a null counter, counted nowhere
}

counter counter_vec::at(std::string_view value) const noexcept {
    const auto it = by_value_.find(value);
    return it == by_value_.end() ? fallback_ : it->second;
}

void dynamic_counter::inc(std::initializer_list<std::string_view> values, std::uint64_t n) const {
    if (r_ == nullptr) return;
    const auto slot = r_->cached_slot(family_, values);
    if (slot != registry::none) r_->local().add(slot, n);
}

void dynamic_histogram::observe(std::initializer_list<std::string_view> values, double v) const {
    if (r_ == nullptr) return;
    const auto slot = r_->cached_slot(family_, values);
    if (slot == registry::none) return;
    observe_into(r_->local(), slot, bounds_, v);
}

collector_handle& collector_handle::operator=(collector_handle&& o) noexcept {
    if (this != &o) {
        reset();
        r_ = std::exchange(o.r_, nullptr);
        family_ = o.family_;
        id_ = o.id_;
    }
    return *this;
}

void collector_handle::reset() noexcept {
    if (r_ != nullptr) r_->remove_collector(family_, id_);
    r_ = nullptr;
}

// ---- registry

registry::registry() : id_(next_registry_id.fetch_add(1)) {
    shards_.push_back(std::make_unique<shard>());
    exiting_ = shards_.back().get();
    std::lock_guard lock(live_mutex);
    live().emplace(id_, this);
}

registry::~registry() {
    std::lock_guard lock(live_mutex);
    live().erase(id_);
}

void registry::release(shard* s) noexcept {
    std::lock_guard lock(mutex_);
    free_.push_back(s);
}

shard& registry::local() noexcept {
    if (tls_last.registry == id_) return *tls_last.s;
    return attach();
}

shard& registry::attach() noexcept {
    // Counting from a thread_local destructor after this thread's shards went back: a shared
    // shard (concurrent exits may lose an increment there; nothing worse).
    if (tls_exiting) return *exiting_;
    for (const auto& e : tls_all.all) {
        if (e.registry == id_) {
            tls_last = e;
            return *e.s;
        }
    }
    shard* s = nullptr;
    {
        // An ended thread's shard when there is one: its counts stay, this thread adds to them.
        std::lock_guard lock(mutex_);
        if (!free_.empty()) {
            s = free_.back();
            free_.pop_back();
        } else {
            shards_.push_back(std::make_unique<shard>());
            s = shards_.back().get();
        }
    }
    tls_all.all.push_back({id_, s});
    tls_last = tls_all.all.back();
    return *s;
}

std::uint32_t registry::width(const family& f) const noexcept {
    switch (f.k) {
        case kind::histogram:
            return static_cast<std::uint32_t>(f.bounds.size()) + 2;  // buckets, +Inf, sum
        case kind::collected:
            return 0;
        default:
            return 1;
    }
}

std::uint32_t registry::family_of(std::string_view name, std::string_view help, kind k,
                                  std::vector<std::string> labels, std::span<const double> bounds) {
    std::lock_guard lock(mutex_);
    auto f = std::make_unique<family>();
    f->name = name;
    f->help = help;
    f->k = k;
    f->labels = std::move(labels);
    f->bounds.assign(bounds.begin(), bounds.end());
    families_.push_back(std::move(f));
    return static_cast<std::uint32_t>(families_.size() - 1);
}

std::uint32_t registry::series_slot(std::uint32_t fam, std::span<const std::string_view> values) {
    std::string key;
    for (const auto v : values) key.append(v).push_back(key_separator);
    std::lock_guard lock(mutex_);
    family& f = *families_[fam];
    if (const auto it = f.index.find(key); it != f.index.end()) return it->second;
    const std::uint32_t w = width(f);
    if (next_slot_ + w > max_slots) {
        if (!warned_full_) spdlog::error("metrics: out of series slots; new series are dropped");
        warned_full_ = true;
        return none;
    }
    const std::uint32_t slot = next_slot_;
    next_slot_ += w;
    series s;
    s.slot = slot;
    for (const auto v : values) s.values.emplace_back(v);
    f.all.push_back(std::move(s));
    f.index.emplace(std::move(key), slot);
    return slot;
}

std::uint32_t registry::cached_slot(std::uint32_t fam,
                                    std::initializer_list<std::string_view> values) {
    shard& s = local();
    std::string key(reinterpret_cast<const char*>(&fam), sizeof fam);
    for (const auto v : values) key.append(v).push_back(key_separator);
    if (const auto it = s.cache.find(key); it != s.cache.end()) return it->second;
    const std::uint32_t slot =
        series_slot(fam, std::span<const std::string_view>(values.begin(), values.size()));
    s.cache.emplace(std::move(key), slot);
    return slot;
}

counter registry::add_counter(std::string_view name, std::string_view help) {
    const auto f = family_of(name, help, kind::counter, {}, {});
    return counter(this, series_slot(f, {}));
}

gauge registry::add_gauge(std::string_view name, std::string_view help) {
    const auto f = family_of(name, help, kind::gauge, {}, {});
    return gauge(this, series_slot(f, {}));
}

histogram registry::add_histogram(std::string_view name, std::string_view help,
                                  std::span<const double> bounds) {
    const auto f = family_of(name, help, kind::histogram, {}, bounds);
    std::span<const double> stored;
    {
        std::lock_guard lock(mutex_);
        stored = families_[f]->bounds;
    }
    return histogram(this, series_slot(f, {}), stored);
}

counter_vec registry::add_counter_vec(std::string_view name, std::string_view help,
                                      std::string_view label,
                                      std::span<const std::string_view> values,
                                      std::string_view fallback) {
    const auto f = family_of(name, help, kind::counter, {std::string(label)}, {});
    counter_vec out;
    for (const auto v : values) {
        const std::string_view one[] = {v};
        out.by_value_.emplace(v, counter(this, series_slot(f, one)));
    }
    if (fallback.empty()) return out;
    if (const auto it = out.by_value_.find(fallback); it != out.by_value_.end()) {
        out.fallback_ = it->second;
        return out;
    }
    const std::string_view fb[] = {fallback};
    out.fallback_ = counter(this, series_slot(f, fb));
    out.by_value_.emplace(fallback, out.fallback_);
    return out;
}

dynamic_counter registry::add_dynamic_counter(std::string_view name, std::string_view help,
                                              std::vector<std::string> labels) {
    return dynamic_counter(this, family_of(name, help, kind::counter, std::move(labels), {}));
}

dynamic_histogram registry::add_dynamic_histogram(std::string_view name, std::string_view help,
                                                  std::vector<std::string> labels,
                                                  std::span<const double> bounds) {
    const auto f = family_of(name, help, kind::histogram, std::move(labels), bounds);
    std::lock_guard lock(mutex_);
    // The family's bounds never change after declaration (families are never moved).
    return dynamic_histogram(this, f, families_[f]->bounds);
}

void registry::add_collected_gauge(std::string_view name, std::string_view help,
                                   std::string_view type) {
    const auto f = family_of(name, help, kind::collected, {}, {});
    std::lock_guard lock(mutex_);
    families_[f]->collected_type = type;
}

collector_handle registry::add_collector(std::string_view name, collect_fn fn) {
    std::lock_guard lock(mutex_);
    for (std::uint32_t i = 0; i < families_.size(); ++i) {
        if (families_[i]->name != name || families_[i]->k != kind::collected) continue;
        const std::uint64_t id = next_collector_++;
        families_[i]->collectors.emplace_back(id, std::move(fn));
        return collector_handle(this, i, id);
    }
    spdlog::error("metrics: no collected family named {}", name);
    return {};
}

void registry::remove_collector(std::uint32_t fam, std::uint64_t id) noexcept {
    std::lock_guard lock(mutex_);
    auto& c = families_[fam]->collectors;
    std::erase_if(c, [id](const auto& p) { return p.first == id; });
}

std::size_t registry::shard_count() const {
    std::lock_guard lock(mutex_);
    return shards_.size();
}

std::string registry::scrape() {
    std::lock_guard scrape_lock(scrape_mutex_);
    // Copy what is needed under the lock; collectors run outside it (they may take their own
    // locks, e.g. the connection pool's).
    struct view {
        const family* f;
        std::vector<series> all;
        std::vector<collect_fn> collectors;
    };
    std::vector<view> views;
    std::vector<shard*> shards;
    {
        std::lock_guard lock(mutex_);
        views.reserve(families_.size());
        for (const auto& f : families_) {
            view v{f.get(), f->all, {}};
            for (const auto& [id, fn] : f->collectors) v.collectors.push_back(fn);
            views.push_back(std::move(v));
        }
        for (const auto& s : shards_) shards.push_back(s.get());
    }
    const auto total = [&](std::uint32_t slot) {
        std::uint64_t sum = 0;
        for (const shard* s : shards) sum += s->read(slot);
        return sum;
    };
    std::string out;
    out.reserve(16 * 1024);
    for (auto& v : views) {
        const family& f = *v.f;
        const char* type = f.k == kind::counter     ? "counter"
                           : f.k == kind::gauge     ? "gauge"
                           : f.k == kind::histogram ? "histogram"
                                                    : f.collected_type.c_str();
        out += "# HELP " + f.name + ' ' + escape_help(f.help) + '\n';
        out += "# TYPE " + f.name + ' ' + type + '\n';
        if (f.k == kind::collected) {
            for (const auto& fn : v.collectors) {
                std::vector<sample> samples;
                try {
                    samples = fn();
                } catch (const std::exception& e) {
                    spdlog::warn("metrics: collector of {} failed: {}", f.name, e.what());
                }
                for (const auto& s : samples) {
                    std::vector<std::string> names, values;
                    for (const auto& [n, val] : s.labels) {
                        names.push_back(n);
                        values.push_back(val);
                    }
                    out += f.name + labels_text(names, values) + ' ' + format_value(s.value) + '\n';
                }
            }
            continue;
        }
        std::sort(v.all.begin(), v.all.end(),
                  [](const series& a, const series& b) { return a.values < b.values; });
        for (const auto& s : v.all) {
            if (f.k == kind::counter) {
                out += f.name + labels_text(f.labels, s.values) + ' ' +
                       std::to_string(total(s.slot)) + '\n';
            } else if (f.k == kind::gauge) {
                out += f.name + labels_text(f.labels, s.values) + ' ' +
                       std::to_string(static_cast<std::int64_t>(total(s.slot))) + '\n';
            } else {
                std::uint64_t cumulative = 0;
                const auto n = static_cast<std::uint32_t>(f.bounds.size());
                for (std::uint32_t i = 0; i <= n; ++i) {
                    cumulative += total(s.slot + i);
                    const std::string le = i < n ? format_value(f.bounds[i]) : "+Inf";
                    out += f.name + "_bucket" + labels_text(f.labels, s.values, "le", le) + ' ' +
                           std::to_string(cumulative) + '\n';
                }
                double sum = 0;
                for (const shard* sh : shards)
                    sum += std::bit_cast<double>(sh->read(s.slot + n + 1));
                out += f.name + "_sum" + labels_text(f.labels, s.values) + ' ' + format_value(sum) +
                       '\n';
                out += f.name + "_count" + labels_text(f.labels, s.values) + ' ' +
                       std::to_string(cumulative) + '\n';
            }
        }
    }
    return out;
}

}  // namespace parley::core::metrics
