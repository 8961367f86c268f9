// Stream frames between the bus and one WebSocket (API.md §8.8; docs/decisions/0004-resume.md).
#include "api/ws/stream_gate.hpp"

#include "api/close_codes.hpp"
#include "api/json.hpp"

#include <spdlog/spdlog.h>
#include <boost/json/serialize.hpp>

#include <algorithm>

namespace parley::api {

namespace {

constexpr std::uint16_t close_slow_consumer = close_code::slow_consumer;  // §8.2

}  // namespace

void stream_gate::deliver(const fanout::frame& f) {
    if (f.kind == fanout::frame_kind::control || !f.data ||
        (f.kind == fanout::frame_kind::ephemeral && greeted_.load(std::memory_order_acquire))) {
        conn_->deliver(f);  // control (applied at once) and typing/presence (unordered, §8.2)
        return;
    }
    bool overflow = false;
    {
        std::lock_guard lock(mutex_);
        if (f.kind == fanout::frame_kind::ephemeral) {
            if (greeted_.load(std::memory_order_relaxed)) {
                conn_->deliver(f);
            } else if (before_hello_bytes_ + f.data->size() <= budget_ / 2) {
                // Droppable (§8.2) like in a half-full outbox, so the wait is bounded.
                before_hello_bytes_ += f.data->size();
                before_hello_.push_back(f);
            }
            return;
        }
        if (!holding()) {
            pass(f, false);
            return;
        }
        // Every event frame waits, not only stream frames: the hold delays, it never reorders
        // (a member_removed stays after the channel frames published before it, §8.7). What
        // is held counts against the socket's outbox budget as it arrives (held + queued ≤
        // budget), so releasing it later needs no second check and never closes a reader.
        const bool must_fit = resuming_ || !greeted_.load(std::memory_order_relaxed);
        const std::size_t size = f.data->size();
        if (conn_->reserve(size, must_fit ? budget_ : budget_ / 2)) {
            held_.push_back(f);
            held_bytes_ += size;
        } else if (must_fit) {
            // Really that far behind (a resume), or more than the budget before hello could
            // even be sent: the held frames do not fit.
            overflow = true;
            for (const auto& h : held_) conn_->unreserve(h.data->size());
            held_.clear();
            held_bytes_ = 0;
        } else {
            // The initial hold, not the client, made these bytes wait: past half the budget it
            // ends, and the writer takes them while the other half is room for what follows.
            initial_ = false;
            flush();
            pass(f, false);
        }
    }
    if (overflow) {
        spdlog::info(
            "ws {}: more than {} bytes held before hello or during a resume, closing (slow "
            "consumer)",
            conn_->connection_id(), budget_);
        conn_->close(close_slow_consumer, "Slow consumer.");
    }
}

void stream_gate::pass(const fanout::frame& f, bool reserved) {
    const auto send = [&] {
        if (reserved)
            conn_->deliver_reserved(f);
        else
            conn_->deliver(f);
    };
    if (f.offset <= 0 || f.channel == 0) {
        send();  // not a stream frame
        return;
    }
    auto& s = sent_[f.channel];
    if (s.epoch != f.epoch) {
        s = sent_range{f.epoch, f.offset, f.offset};
    } else if (f.offset <= s.last) {
        if (reserved) conn_->unreserve(f.data->size());
        return;  // replayed already
    } else if (f.offset > s.last + 1) {
        // Frames s.last+1 … offset-1 never reached this socket (lost on the way between
        // instances, or published before a subscription was confirmed): say so rather than
        // skip them silently (§8.8). The sent range restarts here, so a later resume from
        // before the gap is answered resync_required too.
        spdlog::info("ws {}: channel {} frames {}..{} never arrived: resync_required",
                     conn_->connection_id(), f.channel, s.last + 1, f.offset - 1);
        conn_->deliver(gap_frame(f));
        s = sent_range{f.epoch, f.offset, f.offset};
    } else {
        s.last = f.offset;
    }
    send();
}

fanout::frame stream_gate::gap_frame(const fanout::frame& f) {
    json::object o;
    o["type"] = "resync_required";
    o["channel_id"] = f.channel;
    o["offset"] = f.offset;
    o["epoch"] = f.epoch;
    o["reason"] = "frames_lost";
    return fanout::frame{fanout::frame_kind::event,
                         std::make_shared<const std::string>(json::serialize(o))};
}

void stream_gate::flush() {
    auto held = std::move(held_);
    held_.clear();
    held_bytes_ = 0;
    for (const auto& f : held) pass(f, true);
}

void stream_gate::greet(std::string hello) {
    std::lock_guard lock(mutex_);
    conn_->send(fanout::frame{fanout::frame_kind::event,
                              std::make_shared<const std::string>(std::move(hello))});
    for (const auto& f : before_hello_) conn_->deliver(f);
    before_hello_.clear();
    before_hello_bytes_ = 0;
    greeted_.store(true, std::memory_order_release);
    if (!holding()) flush();
}

void stream_gate::release_initial() {
    std::lock_guard lock(mutex_);
    if (!initial_) return;
    initial_ = false;
    if (!holding()) flush();
}

void stream_gate::begin_resume() {
    std::lock_guard lock(mutex_);
    resuming_ = true;
}

void stream_gate::end_resume() {
    std::lock_guard lock(mutex_);
    resuming_ = false;
    if (!holding()) flush();
}

stream_gate::replay_outcome stream_gate::replay(std::int64_t channel, std::int64_t after,
                                                const fanout::stream_history& history) {
    const auto& at = history.position;
    std::lock_guard lock(mutex_);
    auto it = sent_.find(channel);
    if (it != sent_.end() && it->second.epoch != at.epoch) {
        sent_.erase(it);  // another epoch's offsets say nothing about this one
        it = sent_.end();
    }
    std::int64_t from = after;  // the newest offset the client has
    if (it != sent_.end()) {
        // Live frames first..last went out on this socket before the resume. The client has
        // everything up to `last` only if they continue its offset.
        if (it->second.first > after + 1) return {};
        from = std::max(from, it->second.last);
    }
    replay_outcome out{true, 0};
    for (const auto& f : history.frames) {
        if (f.offset <= from) continue;
        conn_->send(fanout::frame{fanout::frame_kind::event, f.data});
        ++out.replayed;
    }
    if (at.offset > after) {
        auto& s = sent_[channel];
        if (s.epoch != at.epoch) s = sent_range{at.epoch, after + 1, after};
        s.last = std::max(s.last, at.offset);
    }
    return out;
}

void stream_gate::forget(std::int64_t channel) {
    std::lock_guard lock(mutex_);
    sent_.erase(channel);
}

std::size_t stream_gate::held() const {
    std::lock_guard lock(mutex_);
    return held_.size();
}

}  // namespace parley::api
