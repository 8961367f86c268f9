// Stream offsets in Redis, with the local fallback (API.md §8.8).
#include "fanout/redis/redis_streams.hpp"

#include <charconv>

namespace parley::fanout::redis {

redis_streams::redis_streams(redis_bus& bus, redis_client& client, std::string fallback_epoch)
    : bus_(bus), client_(client), fallback_epoch_(std::move(fallback_epoch)) {
    bus_.set_stream_hooks(redis_bus::stream_hooks{
        [this](std::int64_t channel, const std::string& body) { publish_locally(channel, body); }});
}

stream_position redis_streams::position(std::int64_t channel_id) {
    if (bus_.up()) {
        const auto r =
            client_.command({"MGET", redis_bus::epoch_key, redis_bus::offset_key(channel_id)});
        if (r && r->type == reply::kind::array && r->elements.size() == 2) {
            stream_position p;
            const auto& offset = r->elements[1];
            if (offset.type == reply::kind::string) {
                std::from_chars(offset.str.data(), offset.str.data() + offset.str.size(), p.offset);
            }
            p.epoch =
                r->elements[0].type == reply::kind::string ? r->elements[0].str : bus_.epoch();
            if (!p.epoch.empty()) return p;
        }
    }
    std::lock_guard lock(mutex_);
    const auto it = fallback_offsets_.find(channel_id);
    return {it == fallback_offsets_.end() ? 0 : it->second, fallback_epoch_};
}

void redis_streams::publish(std::int64_t channel_id, std::string body) {
    bus_.publish_stream(channel_id, std::move(body));
}

void redis_streams::drop(std::int64_t channel_id) {
    bus_.drop_stream(channel_id);
    std::lock_guard lock(mutex_);
    fallback_offsets_.erase(channel_id);
}

void redis_streams::publish_locally(std::int64_t channel_id, const std::string& body) {
    // On the loop (or, before the loop starts, the publishing thread under the channel order
    // the caller keeps): the counter and the delivery stay in one order.
    // Delivered under the lock, like channel_streams: counter order = delivery order.
    std::lock_guard lock(mutex_);
    const std::int64_t offset = ++fallback_offsets_[channel_id];
    bus_.deliver_local("c:" + std::to_string(channel_id),
                       frame{frame_kind::event, std::make_shared<const std::string>(complete_frame(
                                                    body, offset, fallback_epoch_))});
}

}  // namespace parley::fanout::redis
