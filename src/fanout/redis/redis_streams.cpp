// Stream offsets in Redis, with the local fallback (API.md §8.8).
#include "fanout/redis/redis_streams.hpp"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <limits>

namespace parley::fanout::redis {

namespace {

// Offset, retained history and PUBLISH in one step (API.md §8.8): publish order = offset order on
// every instance, and no frame is published without being retained. KEYS: offset counter, epoch,
// history stream, history byte total. ARGV: pub/sub channel, payload header (completed here with
// "<offset>:<epoch>\n"), the frame's JSON without its final '}', a candidate epoch (used when
// Redis lost its data: a new epoch, offsets restart), history size (0: none kept), history TTL
// in ms, history bytes. History entries: id "<offset>-1", fields t (publish time, Redis clock,
// ms), e (epoch), f (the frame's bytes). The byte total of the entries' frames lives in KEYS[4];
// the oldest entries go until at most `size` entries and `bytes` bytes remain (a frame over
// `bytes` is published but not kept), so the stream stays contiguous and ends at the newest
// offset; PEXPIRE drops an idle channel's keys.
constexpr const char* stream_script_source = R"lua(
local epoch = redis.call('GET', KEYS[2])
if not epoch then
    epoch = ARGV[4]
    redis.call('SET', KEYS[2], epoch)
end
local offset = redis.call('INCR', KEYS[1])
local sep = ','
if ARGV[3] == '{' then sep = '' end
local frame = ARGV[3] .. sep .. '"offset":' .. offset .. ',"epoch":"' .. epoch .. '"}'
local size = tonumber(ARGV[5])
local function frame_bytes(e)
    local f = e[2]
    for i = 1, #f, 2 do
        if f[i] == 'f' then return #f[i + 1] end
    end
    return 0
end
if size > 0 then
    local t = redis.call('TIME')
    local now = tostring(t[1]) .. string.format('%03d', math.floor(tonumber(t[2]) / 1000))
    local id = offset .. '-1'
    if redis.call('EXISTS', KEYS[4]) == 0 then
        -- No total yet (a new stream, or one written before totals were kept): count it once.
        local total = 0
        for _, e in ipairs(redis.call('XRANGE', KEYS[3], '-', '+')) do
            total = total + frame_bytes(e)
        end
        redis.call('SET', KEYS[4], total)
    end
    local r = redis.pcall('XADD', KEYS[3], id, 't', now, 'e', epoch, 'f', frame)
    if type(r) == 'table' and r.err then
        -- Entries from before the counter restarted (a lost counter): stale, start over.
        redis.call('DEL', KEYS[3])
        redis.call('SET', KEYS[4], 0)
        redis.call('XADD', KEYS[3], id, 't', now, 'e', epoch, 'f', frame)
    end
    local total = redis.call('INCRBY', KEYS[4], #frame)
    local limit = tonumber(ARGV[7])
    local n = redis.call('XLEN', KEYS[3])
    while n > 0 and (n > size or total > limit) do
        local e = redis.call('XRANGE', KEYS[3], '-', '+', 'COUNT', 1)[1]
        redis.call('XDEL', KEYS[3], e[1])
        total = redis.call('DECRBY', KEYS[4], frame_bytes(e))
        n = n - 1
    end
    redis.call('PEXPIRE', KEYS[3], ARGV[6])
    redis.call('PEXPIRE', KEYS[4], ARGV[6])
end
redis.call('PUBLISH', ARGV[1], ARGV[2] .. offset .. ':' .. epoch .. '\n' .. frame)
return {offset, epoch}
)lua";

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
        auto r = client_.eval(read_script_,
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

// ---- the stream script, run by redis_bus on its publisher connection

int stream_script::load(redisAsyncContext* ac, callback cb, void* privdata) {
    return redisAsyncCommand(ac, cb, privdata, "SCRIPT LOAD %s", stream_script_source);
}

int stream_script::run(redisAsyncContext* ac, callback cb, void* privdata, const call& c) {
    const std::string offset = redis_bus::offset_key(c.channel_id);
    const std::string history = redis_bus::history_key(c.channel_id);
    const std::string history_bytes = redis_bus::history_bytes_key(c.channel_id);
    const std::string_view open(c.body.data(), c.body.size() - 1);  // without the final '}'
    const std::string size = std::to_string(c.history.size);
    const std::string ttl = std::to_string(std::max<std::int64_t>(1, c.history.ttl.count()));
    const std::string bytes = std::to_string(c.history.bytes);
    const std::string_view epoch_key = redis_bus::epoch_key;
    const std::string_view argv[] = {"EVALSHA",
                                     c.sha,
                                     "4",
                                     offset,
                                     epoch_key,
                                     history,
                                     history_bytes,
                                     c.pubsub_channel,
                                     c.header,
                                     open,
                                     c.candidate_epoch,
                                     size,
                                     ttl,
                                     bytes};
    const char* args[std::size(argv)];
    std::size_t lens[std::size(argv)];
    for (std::size_t i = 0; i < std::size(argv); ++i) {
        args[i] = argv[i].data();
        lens[i] = argv[i].size();
    }
    return redisAsyncCommandArgv(ac, cb, privdata, static_cast<int>(std::size(argv)), args, lens);
}

bool stream_script::accepts(std::string_view body) {
    return body.size() >= 2 && body.back() == '}';
}

std::string_view stream_script::reply_epoch(const redisReply* r) {
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2) return {};
    const auto* e = r->element[1];
    if (e->type != REDIS_REPLY_STRING && e->type != REDIS_REPLY_STATUS) return {};
    return {e->str, e->len};
}

}  // namespace parley::fanout::redis
