// The WebSocket side of API.md §8 that is not a frame: the handshake (§8.1), per-socket bus
// subscriptions (§8.7), presence (§8.9), token revocation (§2.3) and the per-frame context.
// Implements api::ws_handler for net/.
#pragma once

#include "api/http.hpp"
#include "api/services.hpp"
#include "api/ws.hpp"
#include "api/ws/presence.hpp"
#include "api/ws/protocol.hpp"
#include "api/ws/stream_gate.hpp"
#include "chat/events.hpp"
#include "chat/realtime_service.hpp"
#include "core/scheduler.hpp"
#include "fanout/bus.hpp"
#include "fanout/presence.hpp"
#include "fanout/stream_publisher.hpp"

#include <chrono>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

namespace parley::api {

class ws_hub final : public ws_handler {
public:
    // `http` formats refusals like every HTTP error (X-Request-Id, CORS). Everything must
    // outlive the hub; stop() before destroying what the timers touch.
    ws_hub(services& svc, http_handler& http, chat::realtime_service& realtime, fanout::bus& bus,
           fanout::stream_publisher& streams, fanout::presence_tracker& tracker,
           chat::event_sink& events);
    ~ws_hub() override;

    ws_accept accept(const request& upgrade) override;
    void on_open(const std::shared_ptr<ws_connection>& conn) override;
    void on_text(const std::shared_ptr<ws_connection>& conn, std::string_view text) override;
    void on_binary(const std::shared_ptr<ws_connection>& conn) override;
    void on_control(const std::shared_ptr<ws_connection>& conn, std::string_view items) override;
    void on_close(const std::shared_ptr<ws_connection>& conn) override;

    // The presence component (get_user_presences, and tests).
    [[nodiscard]] ws_presence& presence() noexcept { return presence_; }

    // One revocation sweep (§2.3): closes with 4001 every socket whose access token or token
    // family is blacklisted, whose token generation is below its user's, or whose user is
    // inactive or gone; the others take their user's current staff flags. Runs every
    // revocation_sweep_interval.
    void sweep_revoked();

    // Stops the timers and records pending last_seen values. Call after the server stopped.
    void stop();

    // Open sockets of a user on this instance.
    [[nodiscard]] std::size_t connections_of(model::id user) const;
    // Connection slots a user holds on this instance (accepted upgrades not yet gone, §8.1).
    [[nodiscard]] std::size_t slots_of(model::id user) const;

    // How often sweep_revoked runs: the §2.3 bound is 5 s from revocation to close.
    static constexpr std::chrono::seconds revocation_sweep_interval{2};

private:
    // One open socket as the hub sees it.
    struct connection_state {
        std::shared_ptr<ws_connection> conn;
        std::shared_ptr<stream_gate> gate;  // what the bus delivers to (§8.8 resume)
        ws_credentials credentials;         // the access token (§2.3, reauth)
        std::mutex mutex;                   // guards user, groups and closed
        // Loaded in on_open, replaced by the sweep when staff flags change; each frame takes a
        // snapshot.
        std::shared_ptr<const model::user> user;
        std::set<std::string> groups;  // the bus groups this socket is in
        bool closed = false;
        bool counted = false;  // presence_.opened() ran

        [[nodiscard]] std::shared_ptr<const model::user> user_now() {
            std::lock_guard lock(mutex);
            return user;
        }
    };

    [[nodiscard]] std::shared_ptr<connection_state> find(const ws_connection* conn) const;
    // Applies "+g -g !gen ..." to one socket (under its mutex).
    void apply_control(connection_state& st, std::string_view items);
    // Closes the socket with 4001 when its access token expires (§8.2), unless a reauth
    // replaced the token by then: then it waits for the new expiry. One timer per socket.
    void watch_expiry(const std::shared_ptr<connection_state>& st);
    // The sweep's verdict on one socket; updates its staff flags when they changed.
    void sweep_one(connection_state& st, const chat::revoked_set& revoked);
    [[nodiscard]] response refuse(const request& req, const core::error& e);

    services& svc_;
    http_handler& http_;
    chat::realtime_service& realtime_;
    fanout::bus& bus_;
    fanout::stream_publisher& streams_;
    core::scheduler timers_;  // before presence_, which schedules on it
    ws_presence presence_;

    // The per-user cap (§8.1): a slot is taken under the lock in accept() (check and increment
    // in one step, so parallel upgrades never pass the cap together) and given back when the
    // accepted socket is gone. Shared with the slots, which may outlive the hub.
    struct slot_table {
        std::mutex mutex;
        std::unordered_map<model::id, std::size_t> taken;
        // A slot for `user`, or null when `cap` are taken.
        static std::shared_ptr<void> take(const std::shared_ptr<slot_table>& self, model::id user,
                                          std::size_t cap);
    };
    std::shared_ptr<slot_table> slots_ = std::make_shared<slot_table>();

    mutable std::mutex mutex_;  // guards the two maps
    std::unordered_map<const ws_connection*, std::shared_ptr<connection_state>> connections_;
    std::unordered_map<model::id, std::size_t> per_user_;
};

}  // namespace parley::api
