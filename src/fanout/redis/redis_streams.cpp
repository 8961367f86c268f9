// Stream offsets in Redis, with the local fallback (API.md §8.8).
#include "fanout/redis/redis_streams.hpp"

#include <charconv>
#include <chrono>
#include <limits>

namespace parley::fanout::redis {

namespace {

// The stream position and retained frames after ARGV[1], in one step (API.md §8.8). KEYS: epoch,
// offset counter, history. ARGV: after, TTL in ms, a candidate epoch (set when the epoch is gone:
// Redis lost its data, so whatever a client holds is of an older epoch). Returns {epoch, offset,
// o1, f1, o2, f2, ...}.
constexpr const char* read_script = R"lua(
local epoch = redis.call('GET', KEYS[1])
if not epoch then
    redis.call('SET', KEYS[1], ARGV[3], 'NX')
    epoch = redis.call('GET', KEYS[1])
end
local offset = tonumber(redis.call('GET', KEYS[2]) or '0')
local out = {epoch, offset}
local after = tonumber(ARGV[1])
if offset > after then
    local t = redis.call('TIME')
    local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
    local oldest = now - tonumber(ARGV[2])
    for _, e in ipairs(redis.call('XRANGE', KEYS[3], string.format('%d-1', after + 1), '+')) do
        local ts, ep, fr
        local f = e[2]
        for i = 1, #f, 2 do
            if f[i] == 't' then ts = tonumber(f[i + 1])
            elseif f[i] == 'e' then ep = f[i + 1]
            elseif f[i] == 'f' then fr = f[i + 1] end
        end
        if ep == epoch and ts and ts > oldest and fr then
            out[#out + 1] = string.match(e[1], '^(%d+)-')
            out[#out + 1] = fr
        end
    end
end
return out
)lua";

// How long a history read waits for this instance's subscription to the channel (a round trip
// to Redis normally).
constexpr std::chrono::milliseconds subscribe_wait{2000};

std::int64_t number_of(const reply& r) {
    if (r.type == reply::kind::integer) return r.integer;
    std::int64_t v = 0;
    if (r.type == reply::kind::string)
        std::from_chars(r.str.data(), r.str.data() + r.str.size(), v);
    return v;
}

}  // namespace

redis_streams::redis_streams(redis_bus& bus, redis_client& client, std::string fallback_epoch)
    : bus_(bus),
      client_(client),
      read_script_(read_script),
      fallback_epoch_(std::move(fallback_epoch)) {
    bus_.set_stream_hooks(redis_bus::stream_hooks{
        [this](std::int64_t channel, const std::string& body) { publish_locally(channel, body); }});
}

stream_position redis_streams::position(std::int64_t channel_id) {
    return history(channel_id, std::numeric_limits<std::int64_t>::max()).position;
}

stream_history redis_streams::history(std::int64_t channel_id, std::int64_t after) {
    stream_history out;
    // This instance's sockets of the channel must hear every frame published after the read
    // (a socket subscribed a moment ago may not be subscribed in Redis yet).
    bus_.await_subscribed("c:" + std::to_string(channel_id), subscribe_wait);
    if (bus_.up()) {
        const auto ttl = std::max<std::int64_t>(1, bus_.history().ttl.count());
        const auto r = client_.eval(read_script_,
                                    {redis_bus::epoch_key, redis_bus::offset_key(channel_id),
                                     redis_bus::history_key(channel_id)},
                                    {std::to_string(after), std::to_string(ttl), new_epoch()});
        if (r && r->type == reply::kind::array && r->elements.size() >= 2 &&
            r->elements[0].type == reply::kind::string && !r->elements[0].str.empty()) {
            out.position.epoch = r->elements[0].str;
            out.position.offset = number_of(r->elements[1]);
            const auto n = (r->elements.size() - 2) / 2;
            out.frames.reserve(n);
            std::int64_t expect = 0;
            for (std::size_t i = 0; i < n; ++i) {
                const auto offset = number_of(r->elements[2 + 2 * i]);
                auto& f = r->elements[3 + 2 * i];
                // Contiguous and ending at the position, or it is not history one can replay:
                // keep the newest contiguous run.
                if (expect != 0 && offset != expect) out.frames.clear();
                out.frames.push_back(
                    retained_frame{offset, std::make_shared<const std::string>(std::move(f.str))});
                expect = offset + 1;
            }
            if (!out.frames.empty() && out.frames.back().offset != out.position.offset)
                out.frames.clear();
            return out;
        }
    }
    std::lock_guard lock(mutex_);
    const auto it = fallback_offsets_.find(channel_id);
    out.position = {it == fallback_offsets_.end() ? 0 : it->second, fallback_epoch_};
    return out;
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
    frame f{frame_kind::event,
            std::make_shared<const std::string>(complete_frame(body, offset, fallback_epoch_))};
    f.channel = channel_id;
    f.offset = offset;
    f.epoch = fallback_epoch_;
    bus_.deliver_local("c:" + std::to_string(channel_id), f);
}

}  // namespace parley::fanout::redis
