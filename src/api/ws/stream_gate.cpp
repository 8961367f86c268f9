// Stream frames between the bus and one WebSocket (API.md §8.8; docs/decisions/0004-resume.md).
#include "api/ws/stream_gate.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace parley::api {

namespace {

constexpr std::uint16_t close_slow_consumer = 4008;  // §8.2

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
            pass(f);
            return;
        }
        // Every event frame waits, not only stream frames: the hold delays, it never reorders
        // (a member_removed stays after the channel frames published before it, §8.7).
        held_.push_back(f);
        held_bytes_ += f.data->size();
        if (held_bytes_ > budget_) {
            if (resuming_ || !greeted_.load(std::memory_order_relaxed)) {
                overflow = true;
                held_.clear();
                held_bytes_ = 0;
            } else {
                initial_ = false;  // waited long enough in bytes: what was held goes out now
                flush();
            }
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

void stream_gate::pass(const fanout::frame& f) {
    if (f.offset <= 0 || f.channel == 0) {
        conn_->deliver(f);  // not a stream frame
        return;
    }
    auto& s = sent_[f.channel];
    if (s.epoch != f.epoch) {
        s = sent_range{f.epoch, f.offset, f.offset};
    } else if (f.offset <= s.last) {
        return;  // replayed already
    } else {
        s.last = f.offset;
    }
    conn_->deliver(f);
}

void stream_gate::flush() {
    auto held = std::move(held_);
    held_.clear();
    held_bytes_ = 0;
    for (const auto& f : held) pass(f);
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

std::size_t stream_gate::held() const {
    std::lock_guard lock(mutex_);
    return held_.size();
}

}  // namespace parley::api
