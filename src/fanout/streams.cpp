// Channel stream offsets (API.md §8.8).
#include "fanout/streams.hpp"

namespace parley::fanout {

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

void channel_streams::publish(std::int64_t channel_id, std::string body) {
    const auto s = get(channel_id);
    std::lock_guard lock(s->mutex);
    const std::int64_t offset = s->offset + 1;
    auto data = std::make_shared<const std::string>(complete_frame(body, offset, epoch_));
    s->offset = offset;
    bus_.publish(channel_group(channel_id), frame{frame_kind::event, std::move(data)});
}

void channel_streams::drop(std::int64_t channel_id) {
    std::lock_guard lock(mutex_);
    streams_.erase(channel_id);
}

}  // namespace parley::fanout
