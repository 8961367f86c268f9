// The pub/sub side of the Redis fan-out (docs/decisions/0002-redis.md): one subscriber
// connection per instance multiplexes every group this instance has local subscribers for
// (SUBSCRIBE at the first, UNSUBSCRIBE after the last), subscribes every group again after a
// reconnect, and tells waiters when Redis confirmed a group's subscription (§8.8: a history read
// after it leaves no gap). What a message means is the bus's (redis_bus).
#pragma once

#include "fanout/event_loop.hpp"
#include "fanout/redis/redis_connection.hpp"

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

struct redisAsyncContext;
struct redisReply;

namespace parley::fanout::redis {

class redis_subscriptions {
public:
    // All but local_subscribers called on the loop.
    struct handlers {
        // Subscribers of a group on this instance (any thread).
        std::function<std::size_t(std::string_view group)> local_subscribers;
        // A message published to a group.
        std::function<void(std::string_view group, std::string_view payload)> message;
        // The group's subscription was confirmed or released: frames held for it may go.
        std::function<void(const std::string& group)> settled;
        // The connection opened (every group is being subscribed again) or was lost (nothing is
        // subscribed any more).
        std::function<void()> connection_changed;
    };

    // `channel_prefix` + group = the pub/sub channel.
    redis_subscriptions(std::string channel_prefix, const redis_address& address,
                        redis_connection::timing t, handlers h);

    void start(event_loop& loop);
    void stop() { connection_.stop(); }
    // Loop: drops the connection (it comes back after the backoff).
    void close() { connection_.close(); }
    [[nodiscard]] bool connected() const noexcept { return connection_.connected(); }
    [[nodiscard]] std::string channel_of(std::string_view group) const;

    // Any thread, under the owner's lock that orders its subscriber counts: the group's local
    // subscriber count went from 0 or to 0. Then call reconcile_soon() outside that lock.
    void changed(std::string_view group);
    // SUBSCRIBE and UNSUBSCRIBE what changed: at once on the loop (a delivery that subscribes
    // must be subscribed before the frames after it are published, §8.7), else posted.
    void reconcile_soon();
    // Loop: SUBSCRIBE and UNSUBSCRIBE what changed.
    void reconcile();
    // Loop: this instance's own frames for the group wait (its subscription is not confirmed
    // yet), so its own subscribers receive them through Redis in order.
    [[nodiscard]] bool holding(const std::string& group) const;

    // Waits at most `timeout` until the group is confirmed, has no local subscribers or
    // `give_up` says so (checked under the lock wake_waiters() takes). Worker threads only.
    bool await_confirmed(std::string_view group, std::chrono::milliseconds timeout,
                         const std::function<bool()>& give_up);
    // Waiters check give_up again.
    void wake_waiters();

private:
    // SUBSCRIBE and UNSUBSCRIBE of one channel alternate strictly: hiredis 0.14 forgets a
    // channel's callback when an UNSUBSCRIBE reply arrives, even one older than a new SUBSCRIBE.
    enum class sub_state { none, subscribing, subscribed, unsubscribing };
    struct group_state {
        sub_state state = sub_state::none;
        bool again = false;  // unsubscribing, and wanted again: SUBSCRIBE after it
    };

    void on_connected();
    void on_lost();
    void want(const std::string& group, std::vector<std::string>& to_subscribe);
    void release(const std::string& group, std::vector<std::string>& to_unsubscribe);
    void issue(const char* command, const std::vector<std::string>& channels);
    void on_reply(redisReply* r);
    void on_unsubscribed(const std::string& group);
    void set_confirmed(const std::string& group, bool yes);
    void clear_confirmed();
    static void reply_cb(redisAsyncContext* ac, void* r, void* privdata);

    std::string channel_prefix_;
    handlers handlers_;
    redis_connection connection_;
    event_loop* loop_ = nullptr;
    std::shared_ptr<char> alive_ = std::make_shared<char>();  // jobs check it (weak_ptr)

    std::mutex dirty_mutex_;  // guards dirty_, reconcile_posted_
    std::set<std::string> dirty_;
    bool reconcile_posted_ = false;

    // Groups whose SUBSCRIBE Redis confirmed on the current connection.
    std::mutex confirmed_mutex_;
    std::condition_variable confirmed_cv_;
    std::set<std::string, std::less<>> confirmed_;

    std::unordered_map<std::string, group_state> groups_;  // loop-only
};

}  // namespace parley::fanout::redis
