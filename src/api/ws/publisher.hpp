// chat::event_sink for the WebSocket (API.md §8.5-§8.8, STYLE.md flow 3): each domain event is
// serialized once into the exact frame of §8.5 and handed to the bus; stream frames get their
// channel offset and epoch there. Subscription changes travel as control frames, ordered so the
// first frame a new member sees is the one announcing the change (§8.7).
#pragma once

#include "chat/events.hpp"
#include "fanout/bus.hpp"
#include "fanout/presence.hpp"
#include "fanout/stream_publisher.hpp"

namespace parley::api {

class event_publisher final : public chat::event_sink {
public:
    // `presence` (may be null) lets member_added announce an online new member (§8.9).
    event_publisher(fanout::bus& bus, fanout::stream_publisher& streams,
                    fanout::presence_tracker* presence);

    // After commit, on the use case's thread. Never throws: a failure is logged.
    void emit(chat::event e) override;

    // Typed entry points (emit dispatches to these); public for unit tests.
    void publish(const chat::events::message_created& e);
    void publish(const chat::events::message_edited& e);
    void publish(const chat::events::message_deleted& e);
    void publish(const chat::events::reaction_update& e);
    void publish(const chat::events::message_pinned& e);
    void publish(const chat::events::message_unpinned& e);
    void publish(const chat::events::channel_updated& e);
    void publish(const chat::events::channel_deleted& e);
    void publish(const chat::events::channel_created& e);
    void publish(const chat::events::member_added& e);
    void publish(const chat::events::member_removed& e);
    void publish(const chat::events::team_created& e);
    void publish(const chat::events::team_updated& e);
    void publish(const chat::events::team_deleted& e);
    void publish(const chat::events::team_notification& e);
    void publish(const chat::events::typing& e);
    void publish(const chat::events::user_presence& e);
    void publish(const chat::events::sessions_revoked& e);

private:
    fanout::bus& bus_;
    fanout::stream_publisher& streams_;
    fanout::presence_tracker* presence_;
};

}  // namespace parley::api
