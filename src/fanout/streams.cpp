// Channel stream offsets and retained history (API.md §8.8).
#include "fanout/streams.hpp"

#include <algorithm>
#include <vector>

namespace parley::fanout {

namespace {

// How often publish() looks for idle rings to free (bounded by the TTL itself when shorter).
constexpr std::chrono::seconds sweep_interval{30};

}  // namespace

std::shared_ptr<channel_streams::stream> channel_streams::get(std::int64_t channel_id) {
    std::lock_guard lock(mutex_);
    auto& s = streams_[channel_id];
    if (!s) s = std::make_shared<stream>();
    return s;
}

std::int64_t channel_streams::current(std::int64_t channel_id) {
    // A lookup, not get(): reading the position of any id a client names must not create a
    // stream (memory would grow with every unknown id asked about).
    std::shared_ptr<stream> s;
    {
        std::lock_guard lock(mutex_);
        const auto it = streams_.find(channel_id);
        if (it == streams_.end()) return 0;
        s = it->second;
    }
    std::lock_guard lock(s->mutex);
    return s->offset;
}

void channel_streams::pop_oldest(stream& s) {
    s.ring_bytes -= s.ring.front().data->size();
    s.ring.pop_front();
}

// Oldest first, so the ring stays contiguous and ends at the newest offset: a resume from a
// trimmed offset is out_of_window whichever bound trimmed it (§8.8).
void channel_streams::trim(stream& s, clock::time_point now) const {
    while (s.ring.size() > keep_.size || (!s.ring.empty() && s.ring_bytes > keep_.bytes))
        pop_oldest(s);
    while (!s.ring.empty() && now - s.ring.front().at >= keep_.ttl) pop_oldest(s);
    if (s.ring.empty()) s.ring.shrink_to_fit();
}

void channel_streams::publish(std::int64_t channel_id, std::string body) {
    const auto now = clock::now();
    maybe_sweep(now);
    const auto s = get(channel_id);
    std::lock_guard lock(s->mutex);
    const std::int64_t offset = s->offset + 1;
    frame f{frame_kind::event,
            std::make_shared<const std::string>(complete_frame(body, offset, epoch_))};
    f.channel = channel_id;
    f.offset = offset;
    f.epoch = epoch_;
    s->offset = offset;
    if (keep_.size > 0) {
        s->ring.push_back(entry{offset, now, f.data});
        s->ring_bytes += f.data->size();
        trim(*s, now);
    }
    bus_.publish(channel_group(channel_id), f);
}

stream_history channel_streams::history(std::int64_t channel_id, std::int64_t after) {
    stream_history out;
    out.position.epoch = epoch_;
    std::shared_ptr<stream> s;
    {
        std::lock_guard lock(mutex_);
        const auto it = streams_.find(channel_id);
        if (it == streams_.end()) return out;
        s = it->second;
    }
    std::lock_guard lock(s->mutex);
    trim(*s, clock::now());
    out.position.offset = s->offset;
    // The ring is contiguous: the frame after `after` sits at a known index.
    if (s->ring.empty() || after >= s->offset) return out;
    const std::int64_t first = s->ring.front().offset;
    const auto skip = static_cast<std::size_t>(std::max<std::int64_t>(0, after + 1 - first));
    out.frames.reserve(s->ring.size() - std::min(skip, s->ring.size()));
    for (auto it = s->ring.begin() + static_cast<std::ptrdiff_t>(std::min(skip, s->ring.size()));
         it != s->ring.end(); ++it)
        out.frames.push_back(retained_frame{it->offset, it->data});
    return out;
}

void channel_streams::drop(std::int64_t channel_id) {
    std::lock_guard lock(mutex_);
    streams_.erase(channel_id);
}

void channel_streams::maybe_sweep(clock::time_point now) {
    {
        std::lock_guard lock(mutex_);
        const auto every = std::min<clock::duration>(sweep_interval, keep_.ttl);
        if (now - last_sweep_ < every) return;
        last_sweep_ = now;
    }
    sweep(now);
}

void channel_streams::sweep(clock::time_point now) {
    for (const auto& s : snapshot()) {
        std::lock_guard lock(s->mutex);
        trim(*s, now);
    }
}

std::vector<std::shared_ptr<channel_streams::stream>> channel_streams::snapshot() {
    std::lock_guard lock(mutex_);
    std::vector<std::shared_ptr<stream>> all;
    all.reserve(streams_.size());
    for (const auto& [id, s] : streams_) all.push_back(s);
    return all;
}

std::size_t channel_streams::total(std::size_t (*of)(const stream&)) {
    std::size_t n = 0;
    for (const auto& s : snapshot()) {
        std::lock_guard lock(s->mutex);
        n += of(*s);
    }
    return n;
}

std::size_t channel_streams::retained_frames() {
    return total([](const stream& s) { return s.ring.size(); });
}

std::size_t channel_streams::retained_bytes() {
    return total([](const stream& s) { return s.ring_bytes; });
}

}  // namespace parley::fanout
