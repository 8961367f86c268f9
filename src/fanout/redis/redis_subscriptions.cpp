// The subscriber connection and its per-group SUBSCRIBE/UNSUBSCRIBE states.
#include "fanout/redis/redis_subscriptions.hpp"

#include "fanout/redis/hiredis_adapter.hpp"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

namespace parley::fanout::redis {

redis_subscriptions::redis_subscriptions(std::string channel_prefix, const redis_address& address,
                                         redis_connection::timing t, handlers h)
    : channel_prefix_(std::move(channel_prefix)),
      handlers_(std::move(h)),
      // Pub/sub ignores the db number (the channel prefix carries it): no SELECT.
      connection_(
          "subscriber", address, t,
          redis_connection::handlers{nullptr, [this] { on_connected(); }, [this] { on_lost(); }}) {}

void redis_subscriptions::start(event_loop& loop) {
    loop_ = &loop;
    connection_.start(loop);
}

std::string redis_subscriptions::channel_of(std::string_view group) const {
    std::string out = channel_prefix_;
    out.append(group);
    return out;
}

void redis_subscriptions::changed(std::string_view group) {
    std::lock_guard lock(dirty_mutex_);
    dirty_.emplace(group);
}

void redis_subscriptions::reconcile_soon() {
    if (!loop_) return;
    if (loop_->in_loop()) {
        reconcile();
        return;
    }
    {
        std::lock_guard lock(dirty_mutex_);
        if (reconcile_posted_) return;
        reconcile_posted_ = true;
    }
    std::weak_ptr<char> alive = alive_;
    loop_->post([this, alive] {
        if (!alive.expired()) reconcile();
    });
}

void redis_subscriptions::reconcile() {
    std::set<std::string> dirty;
    {
        std::lock_guard lock(dirty_mutex_);
        dirty.swap(dirty_);
        reconcile_posted_ = false;
    }
    if (dirty.empty()) return;
    std::vector<std::string> to_subscribe, to_unsubscribe;
    for (const auto& g : dirty) {
        if (handlers_.local_subscribers(g) > 0)
            want(g, to_subscribe);
        else
            release(g, to_unsubscribe);
    }
    issue("SUBSCRIBE", to_subscribe);
    issue("UNSUBSCRIBE", to_unsubscribe);
}

void redis_subscriptions::want(const std::string& group, std::vector<std::string>& to_subscribe) {
    auto& gs = groups_[group];
    if (gs.state == sub_state::unsubscribing) {
        gs.again = true;  // SUBSCRIBE once the UNSUBSCRIBE is answered
    } else if (gs.state == sub_state::none && connection_.connected()) {
        gs.state = sub_state::subscribing;
        to_subscribe.push_back(channel_of(group));
    }
}

void redis_subscriptions::release(const std::string& group,
                                  std::vector<std::string>& to_unsubscribe) {
    const auto it = groups_.find(group);
    if (it == groups_.end()) return;
    auto& gs = it->second;
    gs.again = false;
    if (gs.state == sub_state::subscribing || gs.state == sub_state::subscribed) {
        to_unsubscribe.push_back(channel_of(group));
        gs.state = sub_state::unsubscribing;
        set_confirmed(group, false);
    }
    if (gs.state == sub_state::none) groups_.erase(it);
    // Nobody here waits for our echo any more: what was held back may go.
    handlers_.settled(group);
}

void redis_subscriptions::issue(const char* command, const std::vector<std::string>& channels) {
    auto* ac = connection_.context();
    if (channels.empty() || !ac) return;
    std::vector<const char*> argv{command};
    std::vector<std::size_t> lens{std::char_traits<char>::length(command)};
    for (const auto& c : channels) {
        argv.push_back(c.data());
        lens.push_back(c.size());
    }
    redisAsyncCommandArgv(ac, reply_cb, this, static_cast<int>(argv.size()), argv.data(),
                          lens.data());
}

bool redis_subscriptions::holding(const std::string& group) const {
    const auto it = groups_.find(group);
    if (it == groups_.end()) return false;
    const auto& gs = it->second;
    return gs.state == sub_state::subscribing || (gs.state == sub_state::unsubscribing && gs.again);
}

void redis_subscriptions::reply_cb(redisAsyncContext*, void* r, void* privdata) {
    auto* self = static_cast<redis_subscriptions*>(privdata);
    if (!r) return;  // the connection went (or stop() freed it)
    self->on_reply(static_cast<redisReply*>(r));
}

void redis_subscriptions::on_reply(redisReply* r) {
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 3) return;
    const auto type = reply_text(r->element[0]);
    const auto channel = reply_text(r->element[1]);
    if (!channel.starts_with(channel_prefix_)) return;
    const auto group_view = channel.substr(channel_prefix_.size());
    if (type == "message") {
        handlers_.message(group_view, {r->element[2]->str, r->element[2]->len});
        return;
    }
    const std::string group(group_view);
    const auto it = groups_.find(group);
    if (it == groups_.end()) return;
    if (type == "subscribe" && it->second.state == sub_state::subscribing) {
        it->second.state = sub_state::subscribed;
        set_confirmed(group, true);
        handlers_.settled(group);
    } else if (type == "unsubscribe" && it->second.state == sub_state::unsubscribing) {
        on_unsubscribed(group);
    }
}

void redis_subscriptions::on_unsubscribed(const std::string& group) {
    auto& gs = groups_[group];
    if (gs.again && handlers_.local_subscribers(group) > 0 && connection_.context()) {
        gs.again = false;
        gs.state = sub_state::subscribing;
        issue("SUBSCRIBE", {channel_of(group)});
        return;
    }
    groups_.erase(group);
    handlers_.settled(group);
}

void redis_subscriptions::on_connected() {
    {
        // Everything counts as changed: reconcile() subscribes every group with subscribers.
        std::lock_guard lock(dirty_mutex_);
        for (const auto& [g, gs] : groups_) dirty_.insert(g);
    }
    reconcile();
    handlers_.connection_changed();
}

void redis_subscriptions::on_lost() {
    // Nothing is subscribed any more.
    clear_confirmed();
    for (auto it = groups_.begin(); it != groups_.end();) {
        it->second = group_state{};
        it = handlers_.local_subscribers(it->first) == 0 ? groups_.erase(it) : std::next(it);
    }
    handlers_.connection_changed();
}

bool redis_subscriptions::await_confirmed(std::string_view group, std::chrono::milliseconds timeout,
                                          const std::function<bool()>& give_up) {
    std::unique_lock lock(confirmed_mutex_);
    return confirmed_cv_.wait_for(lock, timeout, [&] {
        return give_up() || confirmed_.contains(group) || handlers_.local_subscribers(group) == 0;
    });
}

void redis_subscriptions::wake_waiters() {
    {
        std::lock_guard lock(confirmed_mutex_);  // a waiter checks give_up under it
    }
    confirmed_cv_.notify_all();
}

void redis_subscriptions::set_confirmed(const std::string& group, bool yes) {
    {
        std::lock_guard lock(confirmed_mutex_);
        if (yes)
            confirmed_.insert(group);
        else
            confirmed_.erase(group);
    }
    if (yes) confirmed_cv_.notify_all();
}

void redis_subscriptions::clear_confirmed() {
    {
        std::lock_guard lock(confirmed_mutex_);
        confirmed_.clear();
    }
    confirmed_cv_.notify_all();  // waiters see Redis down and stop waiting
}

}  // namespace parley::fanout::redis
