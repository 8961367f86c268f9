// Redis pub/sub fan-out on the server's event loop (docs/decisions/0002-redis.md).
#include "fanout/redis/redis_bus.hpp"

#include "fanout/redis/hiredis_adapter.hpp"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <random>

namespace parley::fanout::redis {

namespace {

constexpr std::size_t instance_id_chars = 16;
constexpr std::size_t max_queued = 100000;  // frames waiting for the loop; past it: local only

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
constexpr const char* stream_script = R"lua(
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

std::string random_text(std::size_t n, std::string_view alphabet) {
    thread_local std::mt19937_64 rng{std::random_device{}()};
    std::uniform_int_distribution<std::size_t> pick(0, alphabet.size() - 1);
    std::string out;
    out.reserve(n);
    for (std::size_t i = 0; i < n; ++i) out.push_back(alphabet[pick(rng)]);
    return out;
}

char kind_char(frame_kind k, bool stream) {
    if (stream) return 's';
    switch (k) {
        case frame_kind::ephemeral:
            return 'p';
        case frame_kind::control:
            return 'c';
        default:
            return 'e';
    }
}

std::string_view reply_text(const redisReply* r) {
    if (!r || (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_STATUS &&
               r->type != REDIS_REPLY_ERROR))
        return {};
    return {r->str, r->len};
}

// Parses the decimal digits of `s` from `pos` up to `stop`; advances pos past the stop char.
bool read_number(std::string_view s, std::size_t& pos, char stop, std::int64_t& out) {
    const auto end = s.find(stop, pos);
    if (end == std::string_view::npos) return false;
    const auto [p, ec] = std::from_chars(s.data() + pos, s.data() + end, out);
    if (ec != std::errc() || p != s.data() + end) return false;
    pos = end + 1;
    return true;
}

}  // namespace

struct redis_bus::stream_call {
    redis_bus* self;
    std::int64_t channel;
    std::string body;
    std::uint64_t seq;
    std::size_t counted;  // bytes of the backlog this frame holds
};

std::string new_instance_id() {
    return random_text(instance_id_chars, "0123456789abcdef");
}

std::string redis_bus::offset_key(std::int64_t channel_id) {
    return "parley:ch:" + std::to_string(channel_id) + ":offset";
}

std::string redis_bus::history_key(std::int64_t channel_id) {
    return "parley:ch:" + std::to_string(channel_id) + ":history";
}

std::string redis_bus::history_bytes_key(std::int64_t channel_id) {
    return "parley:ch:" + std::to_string(channel_id) + ":history_bytes";
}

std::string new_epoch() {
    return random_text(12, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789");
}

redis_bus::redis_bus(options o)
    : options_(std::move(o)),
      channel_prefix_("parley:" + std::to_string(options_.address.db) + ":") {
    if (options_.instance_id.size() != instance_id_chars) options_.instance_id = new_instance_id();
}

redis_bus::~redis_bus() {
    stop();
}

void redis_bus::start(event_loop& loop) {
    loop_ = &loop;
    std::weak_ptr<char> alive = alive_;
    loop.post([this, alive] {
        if (alive.expired()) return;
        connect(true);
        connect(false);
        ping_tick(0);
    });
}

void redis_bus::stop() {
    if (stopping_.exchange(true)) return;
    up_ = false;
    for (const bool publisher : {true, false}) {
        auto& c = publisher ? pub_ : sub_;
        if (auto* ac = c.ctx) {
            c.ctx = nullptr;
            redisAsyncFree(ac);  // pending callbacks get a null reply and see stopping_
        }
    }
}

std::string_view redis_bus::health() const noexcept {
    return up_ ? "ok" : "error";
}

std::string redis_bus::epoch() const {
    std::lock_guard lock(epoch_mutex_);
    return epoch_;
}

void redis_bus::set_stream_hooks(stream_hooks hooks) {
    hooks_ = std::move(hooks);
}

std::string redis_bus::channel_of(std::string_view group) const {
    std::string out = channel_prefix_;
    out.append(group);
    return out;
}

// "<kind><instance id><seq>:<except user>\n", then the frame's bytes.
std::string redis_bus::header(frame_kind kind, bool stream, std::uint64_t seq,
                              std::int64_t except_user) const {
    std::string h;
    h.reserve(40);
    h.push_back(kind_char(kind, stream));
    h += options_.instance_id;
    h += std::to_string(seq);
    h.push_back(':');
    h += std::to_string(except_user);
    h.push_back('\n');
    return h;
}

// ---- any thread

void redis_bus::publish(std::string_view group, const frame& f) {
    if (!loop_ || stopping_) {
        local_.publish(group, f);
        return;
    }
    // Team and user groups: local subscribers now. Channel groups: through Redis (or the
    // fallback on the loop), so that local and remote recipients share the stream's order.
    if (!is_channel_group(group)) local_.publish(group, f);
    enqueue(outgoing{outgoing::what::publish, std::string(group), f, 0, {}});
}

void redis_bus::publish_stream(std::int64_t channel_id, std::string body) {
    if (!loop_ || stopping_) {
        if (hooks_.fallback) hooks_.fallback(channel_id, body);
        return;
    }
    const auto size = static_cast<std::int64_t>(body.size());
    // The backlog bound (options::backlog_bytes): one frame always goes, so a large frame is
    // never refused on an idle connection.
    const auto before = backlog_.fetch_add(size);
    if (before > 0 && before + size > static_cast<std::int64_t>(options_.backlog_bytes)) {
        backlog_.fetch_sub(size);
        std::lock_guard lock(out_mutex_);
        lose(channel_id);
        return;
    }
    outgoing o{outgoing::what::stream, "c:" + std::to_string(channel_id), {}, channel_id, {}};
    o.body = std::move(body);
    o.counted = static_cast<std::size_t>(size);
    enqueue(std::move(o));
}

void redis_bus::drop_stream(std::int64_t channel_id) {
    if (!loop_ || stopping_) return;
    enqueue(outgoing{outgoing::what::drop, {}, {}, channel_id, {}});
}

void redis_bus::deliver_local(std::string_view group, const frame& f) {
    local_.publish(group, f);
}

bool redis_bus::await_subscribed(std::string_view group, std::chrono::milliseconds timeout) {
    if (!loop_ || stopping_ || loop_->in_loop()) return true;
    std::unique_lock lock(confirmed_mutex_);
    return confirmed_cv_.wait_for(lock, timeout, [&] {
        return !up_ || stopping_ || confirmed_.contains(group) ||
               local_.subscriber_count(group) == 0;
    });
}

void redis_bus::set_confirmed(const std::string& group, bool yes) {
    {
        std::lock_guard lock(confirmed_mutex_);
        if (yes)
            confirmed_.insert(group);
        else
            confirmed_.erase(group);
    }
    if (yes) confirmed_cv_.notify_all();
}

void redis_bus::clear_confirmed() {
    {
        std::lock_guard lock(confirmed_mutex_);
        confirmed_.clear();
    }
    confirmed_cv_.notify_all();  // waiters see Redis down and stop waiting
}

void redis_bus::enqueue(outgoing o) {
    bool queued = false;
    bool post = false;
    {
        std::lock_guard lock(out_mutex_);
        if (out_.size() < max_queued) {
            out_.push_back(std::move(o));
            queued = true;
            post = !drain_posted_;
            drain_posted_ = true;
        } else if (o.type == outgoing::what::stream) {
            settle(o.counted);
            lose(o.channel);
            return;
        }
    }
    if (!queued) {
        // The loop stopped or stalls: this instance's subscribers at least.
        if (o.type == outgoing::what::publish && is_channel_group(o.group))
            local_.publish(o.group, o.f);
        return;
    }
    if (!post) return;
    std::weak_ptr<char> alive = alive_;
    loop_->post([this, alive] {
        if (!alive.expired()) drain();
    });
}

void redis_bus::lose(std::int64_t channel) {
    // Under out_mutex_. The drain moves it to the loop, which sends the notice.
    ++lost_[channel];
    if (drain_posted_) return;
    drain_posted_ = true;
    std::weak_ptr<char> alive = alive_;
    loop_->post([this, alive] {
        if (!alive.expired()) drain();
    });
}

void redis_bus::settle(std::size_t counted) noexcept {
    if (counted > 0) backlog_.fetch_sub(static_cast<std::int64_t>(counted));
}

void redis_bus::subscribe(std::string_view group, const std::shared_ptr<subscriber>& s) {
    bool first = false;
    {
        std::lock_guard lock(sub_mutex_);
        const auto before = local_.subscriber_count(group);
        local_.subscribe(group, s);
        first = before == 0 && local_.subscriber_count(group) > 0;
        if (first) dirty_.emplace(group);
    }
    if (first) schedule_reconcile();
}

void redis_bus::unsubscribe(std::string_view group, const subscriber* s) {
    bool last = false;
    {
        std::lock_guard lock(sub_mutex_);
        const auto before = local_.subscriber_count(group);
        local_.unsubscribe(group, s);
        last = before > 0 && local_.subscriber_count(group) == 0;
        if (last) dirty_.emplace(group);
    }
    if (last) schedule_reconcile();
}

void redis_bus::schedule_reconcile() {
    if (!loop_ || stopping_) return;
    if (loop_->in_loop()) {
        // From a delivery on the loop (a control frame): SUBSCRIBE right away, before the frames
        // that follow the control frame are published (§8.7).
        reconcile();
        return;
    }
    {
        std::lock_guard lock(sub_mutex_);
        if (reconcile_posted_) return;
        reconcile_posted_ = true;
    }
    std::weak_ptr<char> alive = alive_;
    loop_->post([this, alive] {
        if (!alive.expired()) reconcile();
    });
}

// ---- loop only

void redis_bus::drain() {
    reconcile();  // subscriptions made before these frames were published come first
    std::vector<outgoing> batch;
    std::map<std::int64_t, std::size_t> lost;
    {
        std::lock_guard lock(out_mutex_);
        batch.swap(out_);
        lost.swap(lost_);
        drain_posted_ = false;
    }
    for (const auto& [channel, times] : lost) notify_[channel] += times;
    send_lost_notices();
    for (auto& o : batch) send(std::move(o));
}

void redis_bus::send_lost_notices() {
    // Counted in the backlog like any stream frame, so while Redis does not keep up they wait
    // too (one per channel, however many frames it lost); a frame lost after a notice went out
    // gets another one.
    while (!notify_.empty()) {
        const auto [channel, times] = *notify_.begin();
        // The stream script completes it with "offset" and "epoch" (§8.8 resync_required).
        outgoing o{outgoing::what::stream, "c:" + std::to_string(channel), {}, channel, {}};
        o.body = R"({"type":"resync_required","channel_id":)" + std::to_string(channel) +
                 R"(,"reason":"frames_lost"})";
        o.counted = o.body.size();
        const auto size = static_cast<std::int64_t>(o.counted);
        const auto before = backlog_.fetch_add(size);
        if (before > 0 && before + size > static_cast<std::int64_t>(options_.backlog_bytes)) {
            backlog_.fetch_sub(size);
            return;  // after the next reply
        }
        notify_.erase(notify_.begin());
        spdlog::warn(
            "redis: {} stream frames of channel {} not sent (more than {} bytes waiting "
            "for Redis): resync_required",
            times, channel, options_.backlog_bytes);
        send(std::move(o));
    }
}

void redis_bus::send(outgoing o) {
    if (o.type == outgoing::what::drop) {
        if (up_) {
            const std::string key = offset_key(o.channel);
            const std::string history = history_key(o.channel);
            const std::string bytes = history_bytes_key(o.channel);
            redisAsyncCommand(pub_.ctx, nullptr, nullptr, "DEL %b %b %b", key.data(), key.size(),
                              history.data(), history.size(), bytes.data(), bytes.size());
        }
        return;
    }
    if (!up_) {
        fallback(o);
        return;
    }
    if (is_channel_group(o.group)) {
        const auto it = groups_.find(o.group);
        if (it != groups_.end() &&
            (it->second.state == sub_state::subscribing ||
             (it->second.state == sub_state::unsubscribing && it->second.again) ||
             !it->second.waiting.empty())) {
            it->second.waiting.push_back(std::move(o));
            return;
        }
    }
    if (o.type == outgoing::what::publish) {
        send_publish(o.group, o.f);
    } else {
        send_stream(o.channel, o.body, o.counted);
    }
}

void redis_bus::fallback(outgoing& o) {
    if (o.type == outgoing::what::stream) {
        settle(o.counted);
        o.counted = 0;
        if (hooks_.fallback) hooks_.fallback(o.channel, o.body);
    } else if (o.type == outgoing::what::publish && is_channel_group(o.group)) {
        local_.publish(o.group, o.f);  // other groups were delivered locally at publish()
    }
}

void redis_bus::send_publish(const std::string& group, const frame& f) {
    if (!f.data) return;
    const std::string channel = channel_of(group);
    std::string payload = header(f.kind, false, 0, f.except_user);
    payload += *f.data;
    const char* argv[3] = {"PUBLISH", channel.data(), payload.data()};
    const std::size_t lens[3] = {7, channel.size(), payload.size()};
    if (redisAsyncCommandArgv(pub_.ctx, nullptr, nullptr, 3, argv, lens) != REDIS_OK) {
        outgoing o{outgoing::what::publish, group, f, 0, {}};
        fallback(o);
    }
}

void redis_bus::send_stream(std::int64_t channel_id, const std::string& body, std::size_t counted) {
    if (body.size() < 2 || body.back() != '}' || script_sha_.empty()) {
        settle(counted);
        if (hooks_.fallback) hooks_.fallback(channel_id, body);
        return;
    }
    const std::uint64_t seq = next_seq_++;
    auto* call = new stream_call{this, channel_id, body, seq, counted};
    const std::string offset = offset_key(channel_id);
    const std::string history = history_key(channel_id);
    const std::string history_bytes = history_bytes_key(channel_id);
    const std::string channel = channel_of("c:" + std::to_string(channel_id));
    std::string head = header(frame_kind::event, true, seq, 0);
    head.back() = ':';  // the script appends "<offset>:<epoch>\n"
    const std::string_view open(body.data(), body.size() - 1);  // without the final '}'
    const std::string size = std::to_string(options_.history.size);
    const std::string ttl = std::to_string(std::max<std::int64_t>(1, options_.history.ttl.count()));
    const std::string bytes = std::to_string(options_.history.bytes);
    const char* argv[] = {"EVALSHA",
                          script_sha_.data(),
                          "4",
                          offset.data(),
                          epoch_key,
                          history.data(),
                          history_bytes.data(),
                          channel.data(),
                          head.data(),
                          open.data(),
                          candidate_epoch_.data(),
                          size.data(),
                          ttl.data(),
                          bytes.data()};
    const std::size_t lens[] = {7,
                                script_sha_.size(),
                                1,
                                offset.size(),
                                std::char_traits<char>::length(epoch_key),
                                history.size(),
                                history_bytes.size(),
                                channel.size(),
                                head.size(),
                                open.size(),
                                candidate_epoch_.size(),
                                size.size(),
                                ttl.size(),
                                bytes.size()};
    static_assert(std::size(argv) == std::size(lens));
    pending_streams_[seq] = false;
    if (redisAsyncCommandArgv(pub_.ctx, stream_cb, call, static_cast<int>(std::size(argv)), argv,
                              lens) != REDIS_OK) {
        pending_streams_.erase(seq);
        delete call;
        settle(counted);
        if (hooks_.fallback) hooks_.fallback(channel_id, body);
    }
}

void redis_bus::stream_cb(redisAsyncContext*, void* r, void* privdata) {
    std::unique_ptr<stream_call> call(static_cast<stream_call*>(privdata));
    call->self->settle(call->counted);
    if (call->self->stopping_) return;
    call->self->on_stream_reply(call.get(), static_cast<redisReply*>(r));
    call->self->send_lost_notices();
}

void redis_bus::on_stream_reply(stream_call* call, redisReply* r) {
    bool echoed = false;
    if (const auto it = pending_streams_.find(call->seq); it != pending_streams_.end()) {
        echoed = it->second;
        pending_streams_.erase(it);
    }
    if (!r) {
        // The connection broke with the script in flight: it may or may not have run. Unless our
        // own subscribers already got it, deliver locally (a client may then see the frame twice,
        // under two epochs; clients apply frames idempotently by message id, §8.8).
        if (!echoed && hooks_.fallback) hooks_.fallback(call->channel, call->body);
        return;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        const auto text = reply_text(r);
        spdlog::warn("redis: stream script failed: {}", text);
        if (text.starts_with("NOSCRIPT")) {
            // SCRIPT FLUSH: load it again; until then streams use the fallback.
            script_sha_.clear();
            pub_.ready = false;
            update_up();
            redisAsyncCommand(pub_.ctx, script_cb, &pub_tag_, "SCRIPT LOAD %s", stream_script);
        }
        if (hooks_.fallback) hooks_.fallback(call->channel, call->body);
        return;
    }
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 2) {
        const auto e = reply_text(r->element[1]);
        // The script created the epoch with our candidate: never offer it again (a later data
        // loss must give a NEW epoch, §8.8).
        if (e == candidate_epoch_) candidate_epoch_ = new_epoch();
        std::lock_guard lock(epoch_mutex_);
        if (e != epoch_) {
            if (!epoch_.empty())
                spdlog::warn("redis: the stream epoch changed ({} -> {}): Redis lost its data",
                             epoch_, e);
            epoch_.assign(e);
        }
    }
}

void redis_bus::reconcile() {
    std::set<std::string> dirty;
    {
        std::lock_guard lock(sub_mutex_);
        dirty.swap(dirty_);
        reconcile_posted_ = false;
    }
    if (dirty.empty()) return;
    std::vector<std::string> to_subscribe, to_unsubscribe;
    for (const auto& g : dirty) {
        const bool wanted = local_.subscriber_count(g) > 0;
        if (wanted) {
            auto& gs = groups_[g];
            if (gs.state == sub_state::unsubscribing) {
                gs.again = true;  // SUBSCRIBE once the UNSUBSCRIBE is answered
            } else if (gs.state == sub_state::none && sub_.connected) {
                gs.state = sub_state::subscribing;
                to_subscribe.push_back(channel_of(g));
            }
            continue;
        }
        const auto it = groups_.find(g);
        if (it == groups_.end()) continue;
        auto& gs = it->second;
        gs.again = false;
        if (gs.state == sub_state::subscribing || gs.state == sub_state::subscribed) {
            to_unsubscribe.push_back(channel_of(g));
            gs.state = sub_state::unsubscribing;
            set_confirmed(g, false);
        }
        // Nobody here waits for our echo any more: send what was held back.
        auto waiting = std::move(gs.waiting);
        if (gs.state == sub_state::none) groups_.erase(it);
        for (auto& o : waiting) send(std::move(o));
    }
    const auto issue = [&](const char* cmd, std::vector<std::string>& channels) {
        if (channels.empty() || !sub_.ctx) return;
        std::vector<const char*> argv{cmd};
        std::vector<std::size_t> lens{std::char_traits<char>::length(cmd)};
        for (const auto& c : channels) {
            argv.push_back(c.data());
            lens.push_back(c.size());
        }
        redisAsyncCommandArgv(sub_.ctx, sub_cb, &sub_tag_, static_cast<int>(argv.size()),
                              argv.data(), lens.data());
    };
    issue("SUBSCRIBE", to_subscribe);
    issue("UNSUBSCRIBE", to_unsubscribe);
}

void redis_bus::resubscribe_all() {
    {
        // Everything counts as changed: reconcile() subscribes every group with subscribers.
        std::lock_guard lock(sub_mutex_);
        for (const auto& [g, gs] : groups_) dirty_.insert(g);
    }
    reconcile();
}

void redis_bus::sub_cb(redisAsyncContext*, void* r, void* privdata) {
    auto* t = static_cast<tag*>(privdata);
    if (!r || t->self->stopping_) return;
    t->self->on_sub_reply(static_cast<redisReply*>(r));
}

void redis_bus::on_sub_reply(redisReply* r) {
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 3) return;
    const auto type = reply_text(r->element[0]);
    const auto channel = reply_text(r->element[1]);
    if (type == "message") {
        on_message(std::string(channel), r->element[2]->str, r->element[2]->len);
        return;
    }
    if (!channel.starts_with(channel_prefix_)) return;
    const std::string group(channel.substr(channel_prefix_.size()));
    const auto it = groups_.find(group);
    if (it == groups_.end()) return;
    auto& gs = it->second;
    if (type == "subscribe" && gs.state == sub_state::subscribing) {
        gs.state = sub_state::subscribed;
        set_confirmed(group, true);
        auto waiting = std::move(gs.waiting);
        for (auto& o : waiting) send(std::move(o));
    } else if (type == "unsubscribe" && gs.state == sub_state::unsubscribing) {
        if (gs.again && local_.subscriber_count(group) > 0 && sub_.ctx) {
            gs.again = false;
            gs.state = sub_state::subscribing;
            const std::string ch = channel_of(group);
            const char* argv[2] = {"SUBSCRIBE", ch.data()};
            const std::size_t lens[2] = {9, ch.size()};
            redisAsyncCommandArgv(sub_.ctx, sub_cb, &sub_tag_, 2, argv, lens);
        } else {
            auto waiting = std::move(gs.waiting);
            groups_.erase(it);
            for (auto& o : waiting) send(std::move(o));
        }
    }
}

void redis_bus::on_message(const std::string& channel, const char* data, std::size_t len) {
    if (!channel.starts_with(channel_prefix_)) return;
    const std::string_view group = std::string_view(channel).substr(channel_prefix_.size());
    const std::string_view payload(data, len);
    if (payload.size() < 1 + instance_id_chars + 4) return;
    const char kind = payload[0];
    const std::string_view origin = payload.substr(1, instance_id_chars);
    std::size_t pos = 1 + instance_id_chars;
    std::int64_t seq = 0, except_user = 0, offset = 0;
    std::string_view epoch;
    bool ok = read_number(payload, pos, ':', seq);
    if (ok && kind == 's') {
        // "<except user>:<offset>:<epoch>\n" (the script completed the header).
        ok = read_number(payload, pos, ':', except_user) && read_number(payload, pos, ':', offset);
        const auto end = payload.find('\n', pos);
        ok = ok && end != std::string_view::npos;
        if (ok) {
            epoch = payload.substr(pos, end - pos);
            pos = end + 1;
        }
    } else {
        ok = ok && read_number(payload, pos, '\n', except_user);
    }
    if (!ok) {
        spdlog::debug("redis: malformed message on {}", channel);
        return;
    }
    const bool own = origin == options_.instance_id;
    if (own && kind == 's') {
        if (const auto it = pending_streams_.find(static_cast<std::uint64_t>(seq));
            it != pending_streams_.end())
            it->second = true;
    }
    // Our own team and user frames were delivered locally when published.
    if (own && !is_channel_group(group)) return;
    frame f;
    f.kind = kind == 'p' ? frame_kind::ephemeral
                         : (kind == 'c' ? frame_kind::control : frame_kind::event);
    f.except_user = except_user;
    f.data = std::make_shared<const std::string>(payload.substr(pos));
    if (kind == 's') {
        std::int64_t id = 0;
        const auto digits = group.substr(2);
        std::from_chars(digits.data(), digits.data() + digits.size(), id);
        f.channel = id;
        f.offset = offset;
        f.epoch.assign(epoch);
    }
    local_.publish(group, f);
}

// ---- connections

void redis_bus::connect(bool publisher) {
    auto& c = publisher ? pub_ : sub_;
    if (stopping_ || c.ctx) return;
    ++c.generation;
    c.reconnect_pending = false;
    c.connected = false;
    c.ready = false;
    const auto& a = options_.address;
    redisAsyncContext* ac = redisAsyncConnect(a.host.c_str(), a.port);
    if (!ac || ac->err) {
        spdlog::debug("redis: cannot connect to {}:{}: {}", a.host, a.port,
                      ac ? ac->errstr : "out of memory");
        if (ac) redisAsyncFree(ac);
        schedule_reconnect(publisher);
        return;
    }
    ac->data = publisher ? &pub_tag_ : &sub_tag_;
    attach(ac, *loop_);
    redisAsyncSetConnectCallback(ac, connect_cb);
    redisAsyncSetDisconnectCallback(ac, disconnect_cb);
    c.ctx = ac;
    // Queued until the connection opens, answered in this order.
    if (!a.password.empty()) {
        if (a.username.empty()) {
            redisAsyncCommand(ac, setup_cb, nullptr, "AUTH %b", a.password.data(),
                              a.password.size());
        } else {
            redisAsyncCommand(ac, setup_cb, nullptr, "AUTH %b %b", a.username.data(),
                              a.username.size(), a.password.data(), a.password.size());
        }
    }
    if (publisher) {
        if (a.db != 0) redisAsyncCommand(ac, setup_cb, nullptr, "SELECT %d", a.db);
        candidate_epoch_ = new_epoch();
        epoch_fresh_ = false;
        redisAsyncCommand(ac, script_cb, &pub_tag_, "SCRIPT LOAD %s", stream_script);
        // The epoch lives in Redis (§8.8): created once; a new one only after Redis lost it.
        redisAsyncCommand(ac, setup_cb, nullptr, "SET %s %b NX", epoch_key, candidate_epoch_.data(),
                          candidate_epoch_.size());
        redisAsyncCommand(ac, epoch_cb, &pub_tag_, "GET %s", epoch_key);
    }
    const std::uint64_t generation = c.generation;
    std::weak_ptr<char> alive = alive_;
    loop_->after(options_.connect_timeout, [this, alive, publisher, generation] {
        if (alive.expired()) return;
        auto& cc = publisher ? pub_ : sub_;
        if (cc.generation != generation || !cc.ctx || cc.connected) return;
        spdlog::debug("redis: connecting timed out");
        close_connection(publisher);
    });
}

void redis_bus::connect_cb(const redisAsyncContext* ac, int status) {
    auto* t = static_cast<tag*>(ac->data);
    if (t->self->stopping_) return;
    auto& c = t->publisher ? t->self->pub_ : t->self->sub_;
    if (c.ctx != ac) return;
    if (status != REDIS_OK) {
        // hiredis frees the context after this callback.
        spdlog::debug("redis: connection failed: {}", ac->errstr);
        c.ctx = nullptr;
        t->self->on_disconnected(t->publisher);
        return;
    }
    t->self->on_connected(t->publisher, status);
}

void redis_bus::on_connected(bool publisher, int) {
    auto& c = publisher ? pub_ : sub_;
    c.connected = true;
    c.backoff = std::chrono::milliseconds(0);
    if (!publisher) {
        c.ready = true;
        resubscribe_all();
    }
    update_up();
}

void redis_bus::disconnect_cb(const redisAsyncContext* ac, int) {
    auto* t = static_cast<tag*>(ac->data);
    if (t->self->stopping_) return;
    auto& c = t->publisher ? t->self->pub_ : t->self->sub_;
    if (c.ctx != ac && c.ctx != nullptr) return;  // an older connection
    c.ctx = nullptr;                              // hiredis frees it after this callback
    t->self->on_disconnected(t->publisher);
}

void redis_bus::close_connection(bool publisher) {
    auto& c = publisher ? pub_ : sub_;
    if (auto* ac = c.ctx) {
        c.ctx = nullptr;
        redisAsyncFree(ac);
    }
    on_disconnected(publisher);
}

// Idempotent: called by the disconnect callback and by close_connection.
void redis_bus::on_disconnected(bool publisher) {
    auto& c = publisher ? pub_ : sub_;
    const bool was_connected = c.connected;
    c.connected = false;
    c.ready = false;
    if (publisher) {
        script_sha_.clear();
        epoch_fresh_ = false;
        ping_outstanding_ = false;
    } else {
        // Nothing is subscribed any more. Frames held for a confirmation go out locally.
        clear_confirmed();
        for (auto it = groups_.begin(); it != groups_.end();) {
            auto& gs = it->second;
            gs.state = sub_state::none;
            gs.again = false;
            auto waiting = std::move(gs.waiting);
            for (auto& o : waiting) fallback(o);
            it = local_.subscriber_count(it->first) == 0 ? groups_.erase(it) : std::next(it);
        }
    }
    if (was_connected)
        spdlog::warn("redis: {} connection lost; delivering locally until it is back",
                     publisher ? "publisher" : "subscriber");
    update_up();
    schedule_reconnect(publisher);
}

void redis_bus::schedule_reconnect(bool publisher) {
    auto& c = publisher ? pub_ : sub_;
    if (stopping_ || !loop_ || c.reconnect_pending || c.ctx) return;
    c.backoff = c.backoff.count() == 0 ? options_.min_backoff
                                       : std::min(c.backoff * 2, options_.max_backoff);
    c.reconnect_pending = true;
    std::weak_ptr<char> alive = alive_;
    loop_->after(c.backoff, [this, alive, publisher] {
        if (alive.expired()) return;
        (publisher ? pub_ : sub_).reconnect_pending = false;
        connect(publisher);
    });
}

void redis_bus::setup_cb(redisAsyncContext*, void* r, void*) {
    const auto* reply = static_cast<redisReply*>(r);
    if (reply && reply->type == REDIS_REPLY_ERROR)
        spdlog::error("redis: connection set-up refused: {}", reply_text(reply));
}

void redis_bus::script_cb(redisAsyncContext*, void* r, void* privdata) {
    auto* t = static_cast<tag*>(privdata);
    const auto* reply = static_cast<redisReply*>(r);
    if (!reply || t->self->stopping_) return;
    if (reply->type != REDIS_REPLY_STRING) {
        spdlog::error("redis: SCRIPT LOAD failed: {}", reply_text(reply));
        return;
    }
    t->self->script_sha_.assign(reply->str, reply->len);
    t->self->check_publisher_ready();
}

void redis_bus::epoch_cb(redisAsyncContext*, void* r, void* privdata) {
    auto* t = static_cast<tag*>(privdata);
    const auto* reply = static_cast<redisReply*>(r);
    if (!reply || t->self->stopping_) return;
    if (reply->type != REDIS_REPLY_STRING) {
        spdlog::error("redis: reading {} failed: {}", epoch_key, reply_text(reply));
        return;
    }
    {
        std::lock_guard lock(t->self->epoch_mutex_);
        const std::string_view e(reply->str, reply->len);
        if (!t->self->epoch_.empty() && t->self->epoch_ != e)
            spdlog::warn("redis: the stream epoch changed ({} -> {}): Redis lost its data",
                         t->self->epoch_, e);
        t->self->epoch_.assign(e);
    }
    // Ours may have become the epoch (SET NX): a later data loss must give a new one.
    t->self->candidate_epoch_ = new_epoch();
    t->self->epoch_fresh_ = true;
    t->self->check_publisher_ready();
}

void redis_bus::check_publisher_ready() {
    pub_.ready = pub_.connected && !script_sha_.empty() && epoch_fresh_;
    update_up();
}

void redis_bus::update_up() {
    const bool now = pub_.connected && pub_.ready && sub_.connected;
    if (now == up_.load()) return;
    up_ = now;
    {
        std::lock_guard lock(confirmed_mutex_);  // a waiter checks up_ under it
    }
    confirmed_cv_.notify_all();
    if (now)
        spdlog::info("redis: fan-out connected to {}:{} (instance {})", options_.address.host,
                     options_.address.port, options_.instance_id);
}

void redis_bus::ping_cb(redisAsyncContext*, void*, void* privdata) {
    auto* t = static_cast<tag*>(privdata);
    if (!t->self->stopping_) t->self->ping_outstanding_ = false;
}

// A Redis that stops answering without closing its sockets (stopped, partitioned) is noticed by
// an unanswered PING, since hiredis 0.14 has no command timeout.
void redis_bus::ping_tick(std::uint64_t) {
    if (stopping_) return;
    const auto now = std::chrono::steady_clock::now();
    if (pub_.connected && pub_.ctx) {
        if (ping_outstanding_ && now - ping_sent_ > options_.ping_timeout) {
            spdlog::warn("redis: no answer to PING for {} ms: reconnecting",
                         options_.ping_timeout.count());
            close_connection(true);
            close_connection(false);
        } else if (!ping_outstanding_) {
            ping_outstanding_ = true;
            ping_sent_ = now;
            redisAsyncCommand(pub_.ctx, ping_cb, &pub_tag_, "PING");
        }
    }
    std::weak_ptr<char> alive = alive_;
    loop_->after(options_.ping_interval, [this, alive] {
        if (!alive.expired()) ping_tick(0);
    });
}

}  // namespace parley::fanout::redis
