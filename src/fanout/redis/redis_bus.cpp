// Redis pub/sub fan-out on the server's event loop (docs/decisions/0002-redis.md): what is
// published where, in which order, and what happens to a frame while Redis is down. The
// connections are redis_connection's, the subscriptions redis_subscriptions', the stream script
// redis_streams'.
#include "fanout/redis/redis_bus.hpp"

#include "fanout/redis/hiredis_adapter.hpp"
#include "fanout/redis/redis_message.hpp"
#include "fanout/redis/redis_streams.hpp"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <memory>
#include <random>

namespace parley::fanout::redis {

namespace {

constexpr std::size_t max_queued = 100000;  // frames waiting for the loop; past it: local only

redis_connection::timing timing_of(const redis_bus::options& o) {
    return {o.min_backoff, o.max_backoff, o.connect_timeout};
}

std::string random_text(std::size_t n, std::string_view alphabet) {
    thread_local std::mt19937_64 rng{std::random_device{}()};
    std::uniform_int_distribution<std::size_t> pick(0, alphabet.size() - 1);
    std::string out;
    out.reserve(n);
    for (std::size_t i = 0; i < n; ++i) out.push_back(alphabet[pick(rng)]);
    return out;
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

std::string new_epoch() {
    return random_text(12, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789");
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

redis_bus::redis_bus(options o)
    : options_(std::move(o)),
      pub_("publisher", options_.address, timing_of(options_),
           redis_connection::handlers{[this](redisAsyncContext* ac) { open_publisher(ac); },
                                      [this] { check_publisher_ready(); },
                                      [this] { on_publisher_lost(); }}),
      subs_("parley:" + std::to_string(options_.address.db) + ":", options_.address,
            timing_of(options_),
            redis_subscriptions::handlers{
                [this](std::string_view group) { return local_.subscriber_count(group); },
                [this](std::string_view group, std::string_view payload) {
                    on_message(group, payload);
                },
                [this](const std::string& group) { release_held(group); },
                [this] { on_subscriptions_changed(); }}) {
    if (options_.instance_id.size() != instance_id_chars) options_.instance_id = new_instance_id();
}

redis_bus::~redis_bus() {
    stop();
}

void redis_bus::start(event_loop& loop) {
    loop_ = &loop;
    pub_.start(loop);
    subs_.start(loop);
    std::weak_ptr<char> alive = alive_;
    loop.post([this, alive] {
        if (alive.expired()) return;
        pub_.keep_alive(options_.ping_interval, options_.ping_timeout, [this] {
            pub_.close();
            subs_.close();
        });
    });
}

void redis_bus::stop() {
    if (stopping_.exchange(true)) return;
    up_ = false;
    pub_.stop();
    subs_.stop();
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
    return subs_.await_confirmed(group, timeout, [this] { return !up_ || stopping_; });
}

void redis_bus::enqueue(outgoing o) {
    std::unique_lock lock(out_mutex_);
    if (out_.size() < max_queued) {
        const bool post = !drain_posted_;
        drain_posted_ = true;
        out_.push_back(std::move(o));
        lock.unlock();
        if (post) post_drain();
        return;
    }
    if (o.type == outgoing::what::stream) {
        settle(o.counted);
        lose(o.channel);  // under out_mutex_
        return;
    }
    lock.unlock();
    // The loop stopped or stalls: this instance's subscribers at least.
    if (o.type == outgoing::what::publish && is_channel_group(o.group))
        local_.publish(o.group, o.f);
}

void redis_bus::post_drain() {
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
    post_drain();
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
        if (first) subs_.changed(group);
    }
    if (first && loop_ && !stopping_) subs_.reconcile_soon();
}

void redis_bus::unsubscribe(std::string_view group, const subscriber* s) {
    bool last = false;
    {
        std::lock_guard lock(sub_mutex_);
        const auto before = local_.subscriber_count(group);
        local_.unsubscribe(group, s);
        last = before > 0 && local_.subscriber_count(group) == 0;
        if (last) subs_.changed(group);
    }
    if (last && loop_ && !stopping_) subs_.reconcile_soon();
}

// ---- loop only

void redis_bus::drain() {
    subs_.reconcile();  // subscriptions made before these frames were published come first
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
        if (up_) send_drop(o.channel);
        return;
    }
    if (!up_) {
        fallback(o);
        return;
    }
    if (is_channel_group(o.group)) {
        const auto it = held_.find(o.group);
        if (it != held_.end() || subs_.holding(o.group)) {
            held_[o.group].push_back(std::move(o));
            return;
        }
    }
    if (o.type == outgoing::what::publish) {
        send_publish(o.group, o.f);
    } else {
        send_stream(o.channel, o.body, o.counted);
    }
}

void redis_bus::send_drop(std::int64_t channel) {
    const std::string key = offset_key(channel);
    const std::string history = history_key(channel);
    const std::string bytes = history_bytes_key(channel);
    redisAsyncCommand(pub_.context(), nullptr, nullptr, "DEL %b %b %b", key.data(), key.size(),
                      history.data(), history.size(), bytes.data(), bytes.size());
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

void redis_bus::release_held(const std::string& group) {
    const auto it = held_.find(group);
    if (it == held_.end()) return;
    auto held = std::move(it->second);
    held_.erase(it);
    for (auto& o : held) send(std::move(o));
}

void redis_bus::on_subscriptions_changed() {
    if (!subs_.connected()) {
        // Nothing is subscribed any more: frames held for a confirmation go out locally.
        auto held = std::move(held_);
        held_.clear();
        for (auto& [group, frames] : held)
            for (auto& o : frames) fallback(o);
    }
    update_up();
}

void redis_bus::send_publish(const std::string& group, const frame& f) {
    if (!f.data) return;
    const std::string channel = subs_.channel_of(group);
    std::string payload =
        format_header({kind_char(f.kind, false), options_.instance_id, 0, f.except_user});
    payload += *f.data;
    const char* argv[3] = {"PUBLISH", channel.data(), payload.data()};
    const std::size_t lens[3] = {7, channel.size(), payload.size()};
    if (redisAsyncCommandArgv(pub_.context(), nullptr, nullptr, 3, argv, lens) != REDIS_OK) {
        outgoing o{outgoing::what::publish, group, f, 0, {}};
        fallback(o);
    }
}

void redis_bus::send_stream(std::int64_t channel_id, const std::string& body, std::size_t counted) {
    if (!stream_script::accepts(body) || script_sha_.empty()) {
        settle(counted);
        if (hooks_.fallback) hooks_.fallback(channel_id, body);
        return;
    }
    const std::uint64_t seq = next_seq_++;
    auto* call = new stream_call{this, channel_id, body, seq, counted};
    const std::string channel = subs_.channel_of("c:" + std::to_string(channel_id));
    std::string head = format_header({kind_char(frame_kind::event, true), options_.instance_id,
                                      static_cast<std::int64_t>(seq), 0});
    head.back() = ':';  // the script appends "<offset>:<epoch>\n"
    pending_streams_[seq] = false;
    const stream_script::call args{script_sha_, channel_id,       channel,         head,
                                   body,        candidate_epoch_, options_.history};
    if (stream_script::run(pub_.context(), stream_cb, call, args) != REDIS_OK) {
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
            pub_ready_ = false;
            update_up();
            stream_script::load(pub_.context(), script_cb, this);
        }
        if (hooks_.fallback) hooks_.fallback(call->channel, call->body);
        return;
    }
    if (const auto e = stream_script::reply_epoch(r); !e.empty()) {
        // The script created the epoch with our candidate: never offer it again (a later data
        // loss must give a NEW epoch, §8.8).
        if (e == candidate_epoch_) candidate_epoch_ = new_epoch();
        learn_epoch(e);
    }
}

void redis_bus::learn_epoch(std::string_view e) {
    std::lock_guard lock(epoch_mutex_);
    if (e == epoch_) return;
    if (!epoch_.empty())
        spdlog::warn("redis: the stream epoch changed ({} -> {}): Redis lost its data", epoch_, e);
    epoch_.assign(e);
}

void redis_bus::on_message(std::string_view group, std::string_view payload) {
    message_header h;
    if (!parse_header(payload, h)) {
        spdlog::debug("redis: malformed message on {}", subs_.channel_of(group));
        return;
    }
    const bool own = h.origin == options_.instance_id;
    if (own && h.kind == 's') {
        if (const auto it = pending_streams_.find(static_cast<std::uint64_t>(h.seq));
            it != pending_streams_.end())
            it->second = true;
    }
    // Our own team and user frames were delivered locally when published.
    if (own && !is_channel_group(group)) return;
    frame f;
    f.kind = kind_of(h.kind);
    f.except_user = h.except_user;
    f.data = std::make_shared<const std::string>(payload.substr(h.size));
    if (h.kind == 's') {
        std::int64_t id = 0;
        const auto digits = group.substr(2);
        std::from_chars(digits.data(), digits.data() + digits.size(), id);
        f.channel = id;
        f.offset = h.offset;
        f.epoch.assign(h.epoch);
    }
    local_.publish(group, f);
}

// ---- the publisher connection

void redis_bus::open_publisher(redisAsyncContext* ac) {
    pub_ready_ = false;
    if (options_.address.db != 0)
        redisAsyncCommand(ac, redis_connection::report_refusal, nullptr, "SELECT %d",
                          options_.address.db);
    candidate_epoch_ = new_epoch();
    epoch_fresh_ = false;
    stream_script::load(ac, script_cb, this);
    // The epoch lives in Redis (§8.8): created once; a new one only after Redis lost it.
    redisAsyncCommand(ac, redis_connection::report_refusal, nullptr, "SET %s %b NX", epoch_key,
                      candidate_epoch_.data(), candidate_epoch_.size());
    redisAsyncCommand(ac, epoch_cb, this, "GET %s", epoch_key);
}

void redis_bus::on_publisher_lost() {
    pub_ready_ = false;
    script_sha_.clear();
    epoch_fresh_ = false;
    update_up();
}

void redis_bus::script_cb(redisAsyncContext*, void* r, void* privdata) {
    auto* self = static_cast<redis_bus*>(privdata);
    const auto* reply = static_cast<redisReply*>(r);
    if (!reply || self->stopping_) return;
    if (reply->type != REDIS_REPLY_STRING) {
        spdlog::error("redis: SCRIPT LOAD failed: {}", reply_text(reply));
        return;
    }
    self->script_sha_.assign(reply->str, reply->len);
    self->check_publisher_ready();
}

void redis_bus::epoch_cb(redisAsyncContext*, void* r, void* privdata) {
    auto* self = static_cast<redis_bus*>(privdata);
    const auto* reply = static_cast<redisReply*>(r);
    if (!reply || self->stopping_) return;
    if (reply->type != REDIS_REPLY_STRING) {
        spdlog::error("redis: reading {} failed: {}", epoch_key, reply_text(reply));
        return;
    }
    self->learn_epoch({reply->str, reply->len});
    // Ours may have become the epoch (SET NX): a later data loss must give a new one.
    self->candidate_epoch_ = new_epoch();
    self->epoch_fresh_ = true;
    self->check_publisher_ready();
}

void redis_bus::check_publisher_ready() {
    pub_ready_ = pub_.connected() && !script_sha_.empty() && epoch_fresh_;
    update_up();
}

void redis_bus::update_up() {
    const bool now = pub_.connected() && pub_ready_ && subs_.connected();
    if (now == up_.load()) return;
    up_ = now;
    subs_.wake_waiters();  // a waiter checks up_
    if (now)
        spdlog::info("redis: fan-out connected to {}:{} (instance {})", options_.address.host,
                     options_.address.port, options_.instance_id);
}

}  // namespace parley::fanout::redis
