// What stands between the bus and one WebSocket (API.md §8.8 resume;
// docs/decisions/0004-resume.md): per channel, the range of stream offsets already sent to this
// socket (live frames at or below it are dropped, so a replay and the live flow never send a
// frame twice), and a hold that keeps live event frames back, in order, while a resume merges
// the replay with them. A new socket starts holding: until its first frame has been handled, at
// most initial_hold, so a `resume` sent right after `hello` is answered before any live frame
// newer than the client's offset. Control frames and ephemeral ones (typing, presence) pass
// through at once, once the socket has had its `hello`: nothing reaches the client before it
// (§8.1, §13.2), not even the user's own online presence published while the socket opened. A
// stream frame that does not continue the offsets this socket had for its channel is preceded by
// resync_required (reason frames_lost): a gap is never silent.
#pragma once

#include "api/ws.hpp"
#include "fanout/bus.hpp"
#include "fanout/stream_publisher.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace parley::api {

class stream_gate final : public fanout::subscriber {
public:
    // The longest a new socket holds live stream frames back waiting for its first frame.
    static constexpr std::chrono::milliseconds initial_hold{1000};

    // `budget`: the socket's outbox budget (PARLEY_WS_SEND_QUEUE_BYTES). Held frames count in
    // it as they arrive (ws_connection::reserve): past half of it the initial hold ends early
    // (the writer takes what was held, the other half is room for what follows); past all of it
    // a resuming socket is closed with 4008 (§8.2).
    stream_gate(std::shared_ptr<ws_connection> conn, std::size_t budget)
        : conn_(std::move(conn)), budget_(budget) {}

    // fanout::subscriber: any thread.
    void deliver(const fanout::frame& f) override;

    // Sends `hello` (serialized), then the ephemeral frames that arrived before it; from then on
    // they pass at once. Until this is called nothing but control frames leaves the gate.
    void greet(std::string hello);

    // The connection this gate feeds.
    [[nodiscard]] const std::shared_ptr<ws_connection>& connection() const noexcept {
        return conn_;
    }

    // Ends the initial hold (first frame handled, or initial_hold passed). Idempotent.
    void release_initial();

    // A resume holds live stream frames from before it reads any history until end_resume().
    void begin_resume();
    void end_resume();

    // The outcome of replay().
    struct replay_outcome {
        bool ok = false;            // false: frames newer than `after` already went out live
        std::int64_t replayed = 0;  // frames sent again
    };

    // For a recovered channel (history.frames = after+1 … position, or none when after is the
    // position): sends the frames this socket has not had yet, in order, and records them as
    // sent. Not ok when live frames of the channel newer than after+1 were already sent before
    // the resume (they cannot be put back in order): the caller answers resync_required.
    replay_outcome replay(std::int64_t channel, std::int64_t after,
                          const fanout::stream_history& history);

    // The socket left the channel's group: what it was sent says nothing about a later
    // membership (no gap is reported for frames published while it was not a member).
    void forget(std::int64_t channel);

    // Frames held back now (tests).
    [[nodiscard]] std::size_t held() const;

private:
    // The offsets of one channel sent to this socket, in one epoch: first … last, contiguous.
    struct sent_range {
        std::string epoch;
        std::int64_t first = 0;
        std::int64_t last = 0;
    };

    [[nodiscard]] bool holding() const noexcept {
        return initial_ || resuming_ || !greeted_.load(std::memory_order_relaxed);
    }
    // Sends a live event frame; a stream frame only if not sent already, after a
    // resync_required when frames before it never arrived (under mutex_). `reserved`: a held
    // frame whose bytes the connection already counts.
    void pass(const fanout::frame& f, bool reserved);
    // The resync_required frame (§8.8, reason frames_lost) for a gap before stream frame `f`.
    [[nodiscard]] static fanout::frame gap_frame(const fanout::frame& f);
    // Sends what was held back (under mutex_).
    void flush();

    std::shared_ptr<ws_connection> conn_;
    std::size_t budget_;
    mutable std::mutex mutex_;  // lock order: gate, then the socket's outbox
    bool initial_ = true;
    bool resuming_ = false;
    // Set under mutex_ once hello is queued; read without it on the ephemeral fast path.
    std::atomic<bool> greeted_{false};
    std::vector<fanout::frame> before_hello_;  // ephemeral frames waiting for hello
    std::size_t before_hello_bytes_ = 0;
    std::vector<fanout::frame> held_;
    std::size_t held_bytes_ = 0;
    std::unordered_map<std::int64_t, sent_range> sent_;
};

}  // namespace parley::api
