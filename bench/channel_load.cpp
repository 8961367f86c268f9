// S2, S3, S6 and S7: messages into one channel, every member checks what it receives
// (bench/README.md). S2 sends as fast as acks allow with 10 senders, S3 fans out to 1,000
// members, S6 offers a fixed rate and reports the delivery latency, S7 splits the members over
// two instances. Each delivery is checked for loss, duplication and order per sender.
#include "harness.hpp"
#include "scenarios.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <limits>
#include <map>

namespace parley::bench {

namespace {

class channel_bench final : public frame_sink {
public:
    explicit channel_bench(run_ctx& ctx) : ctx_(ctx), o_(ctx.opt) {}

    task<void> run() {
        const bool two = o_.scenario == "S7";
        const int members = o_.members;
        senders_ = std::max(1, o_.senders);
        if (members < 2) {
            ctx_.res.problem("--members must be at least 2");
            co_return;
        }
        if (two && senders_ > (members + 1) / 2) senders_ = (members + 1) / 2;
        members_ = members;
        const std::string tag = o_.scenario == "S2"   ? "s2"
                                : o_.scenario == "S3" ? "s3"
                                : o_.scenario == "S6" ? "s6"
                                                      : "s7";
        std::vector<user_fixture> users = co_await register_users(ctx_, members, tag);
        if (users.empty()) co_return;
        auto fixture = co_await team_with_channel(ctx_, users, o_.scenario);
        if (!fixture) co_return;
        channel_ = fixture->channel;

        // Members 0, 2, 4, ... on the first instance, odd ones on the second (S7); senders are
        // the first members of the first instance.
        std::vector<std::string> tokens;
        std::vector<int> instances;
        for (int i = 0; i < members; ++i) {
            tokens.push_back(users[static_cast<std::size_t>(i)].token);
            instances.push_back(two ? i % 2 : 0);
        }
        assign_senders(two, instances);

        progress("opening %d sockets", members);
        opened_sockets opened = co_await open_sockets(ctx_, tokens, instances, this, 32);
        conns_ = std::move(opened.conns);
        if (conns_.size() != static_cast<std::size_t>(members)) co_return;  // setup stopped
        for (const auto& c : conns_) {
            if (!c) {
                finish();
                co_return;  // problems already reported
            }
        }
        for (int s = 0; s < senders_; ++s) {
            senders_state_[static_cast<std::size_t>(s)].conn =
                conns_[static_cast<std::size_t>(sender_member_[static_cast<std::size_t>(s)])];
        }
        co_await settle();
        const bool probed = co_await probe();
        if (!probed) {
            finish();
            co_return;
        }
        co_await measure();
        finish();
        report();
    }

    // Which members send, the per-pair sequence state and each sender's ring.
    void assign_senders(bool two, const std::vector<int>& instances) {
        const int members = members_;
        member_sender_.assign(static_cast<std::size_t>(members), -1);
        for (int s = 0; s < senders_; ++s) {
            const int m = two ? 2 * s : s;
            sender_member_.push_back(m);
            member_sender_[static_cast<std::size_t>(m)] = s;
        }
        last_seq_.assign(static_cast<std::size_t>(members * senders_), 0);
        received_.assign(static_cast<std::size_t>(members * senders_), 0);
        senders_state_.resize(static_cast<std::size_t>(senders_));
        for (auto& s : senders_state_) {
            s.sent_ns.assign(ring, 0);
            s.delivered.assign(ring, 0);
            s.state.assign(ring, 0);
            s.wake = std::make_unique<asio::steady_timer>(ctx_.io);
        }
        for (int i = 0; i < members; ++i) {
            if (instances[static_cast<std::size_t>(i)] == 1) ++second_members_;
        }
    }

    void on_frame(ws_conn& c, std::string_view text, std::int64_t at) override {
        last_frame_ns_ = at;
        // A small arena per frame: parsing never touches the heap for ordinary frames.
        unsigned char arena[16384];
        json::monotonic_resource mr(arena, sizeof arena);
        error_code ec;
        json::value v = json::parse(text, ec, &mr);
        if (ec || !v.is_object()) {
            ++bad_frames_;
            return;
        }
        const auto& f = v.as_object();
        const auto type = string_field(f, "type");
        if (type == "channels") {
            on_message(c, f, at);
        } else if (type == "ack") {
            on_ack(c, f, at);
        } else if (type == "error") {
            on_error(c, f);
        }
    }

    void on_closed(ws_conn& c, const error_code& ec) override {
        if (finishing_) return;
        ++unexpected_closes_;
        std::string why = ec.message();
        if (ec == websocket::error::closed) {
            why = "close code " + std::to_string(c.ws.reason().code);
            if (!c.ws.reason().reason.empty())
                why += " (" + std::string(c.ws.reason().reason.c_str()) + ")";
        }
        ++close_reasons_[(c.instance == 1 ? "second instance: " : "") + why];
    }

private:
    static constexpr std::size_t ring = 1 << 16;  // in-flight messages per sender, at most
    static constexpr std::size_t mask = ring - 1;

    struct sender_state {
        ws_ptr conn;
        std::int64_t next_seq = 1;
        std::int64_t outstanding = 0;  // sent, neither acked nor refused
        std::int64_t acked = 0;
        std::int64_t refused = 0;
        std::int64_t complete = 0;  // every seq <= complete reached every member (or was refused)
        std::int64_t late = 0;      // paced sends that left more than one interval late
        std::vector<std::int64_t> sent_ns;
        std::vector<std::int32_t> delivered;  // members reached, per in-flight seq
        std::vector<std::uint8_t> state;      // per seq: 0 in flight, 1 acked, 2 refused
        std::unique_ptr<asio::steady_timer> wake;
        bool waiting = false;
    };

    // Waits until the sockets are quiet: presence frames of the connects have all arrived.
    task<void> settle() {
        const std::int64_t limit = now_ns() + 30'000'000'000LL;
        last_frame_ns_ = now_ns();
        while (now_ns() < limit && now_ns() - last_frame_ns_ < 300'000'000) {  // bounded: 30 s
            co_await sleep_until(now_ns() + 50'000'000);
        }
    }

    // One message from sender 0 that every member must receive before the load starts.
    task<bool> probe() {
        auto& s = senders_state_[0];
        send(0, now_ns());
        const std::int64_t limit = now_ns() + (o_.smoke ? 5'000'000'000LL : 10'000'000'000LL);
        while (s.complete < 1 && s.refused == 0 && now_ns() < limit && s.conn->open) {
            co_await sleep_until(now_ns() + 10'000'000);  // bounded by `limit`
        }
        if (s.complete >= 1 && s.refused == 0) co_return true;
        int got[2] = {0, 0};
        int total[2] = {0, 0};
        for (int i = 0; i < members_; ++i) {
            const int inst = conns_[static_cast<std::size_t>(i)]->instance;
            ++total[inst];
            if (last_seq_[static_cast<std::size_t>(i * senders_)] >= 1) ++got[inst];
        }
        if (s.refused > 0) {
            ctx_.res.problem("the probe message was refused: " + first_error_);
        } else if (o_.scenario == "S7" && got[1] == 0 && got[0] > 0) {
            ctx_.res.problem(
                "the second instance (--second-url) delivered the probe message to none of its " +
                std::to_string(total[1]) +
                " members within the time limit: cross-instance fan-out is not working (are both "
                "instances started with the same REDIS_URL, database and PARLEY_SECRET_KEY?)");
        } else {
            std::string where = "the probe message reached " + std::to_string(got[0]) + " of " +
                                std::to_string(total[0]) + " members";
            if (total[1] > 0) {
                where += " on the first instance and " + std::to_string(got[1]) + " of " +
                         std::to_string(total[1]) + " on the second";
            }
            ctx_.res.problem(where + (s.acked == 0 ? " and was never acknowledged" : "") +
                             " (is the WebSocket channel_message of API.md §8.4 implemented?)");
        }
        co_return false;
    }

    task<void> measure() {
        const std::int64_t start = now_ns();
        measure_ns_ = start + seconds_ns(o_.warmup_s);
        deadline_ns_ = measure_ns_ + seconds_ns(o_.duration_s);
        auto done = std::make_shared<latch>(ctx_.io.get_executor(), senders_);
        for (int s = 0; s < senders_; ++s) {
            asio::co_spawn(ctx_.io, sender_loop(s, start, done), ctx_.on_done());
        }
        progress("%s: load for %.0f s (+%.0f s warm-up)", o_.scenario.c_str(), o_.duration_s,
                 o_.warmup_s);
        co_await sleep_until(measure_ns_);
        cpu_.start(o_);
        co_await sleep_until(deadline_ns_);
        cpu_.stop(o_);
        const bool stopped = co_await done->wait(steady::now() + 5s);  // senders stop at deadline
        if (!stopped) ctx_.res.problem("a sender did not stop at the deadline");
        // Drain: every ack, and every delivery of every acknowledged message.
        const std::int64_t limit = now_ns() + seconds_ns(o_.drain_s);
        while (now_ns() < limit && !drained()) {  // bounded by --drain
            co_await sleep_until(now_ns() + 20'000'000);
        }
        drain_s_ = (now_ns() - deadline_ns_) / 1e9;
    }

    [[nodiscard]] bool drained() const {
        for (const auto& s : senders_state_) {
            if (s.outstanding > 0) return false;
        }
        return delivered_total_ >= expected_total();
    }

    [[nodiscard]] std::int64_t expected_total() const {
        std::int64_t sum = 0;
        for (const auto& s : senders_state_) sum += s.acked;
        return sum * members_;
    }

    task<void> sender_loop(int index, std::int64_t start, std::shared_ptr<latch> done) {
        auto& s = senders_state_[static_cast<std::size_t>(index)];
        const double interval = o_.rate > 0 ? 1e9 * senders_ / o_.rate : 0;
        const std::int64_t window = std::max(1, o_.window);
        const std::int64_t lag = o_.lag > 0 ? std::min<std::int64_t>(o_.lag, ring / 2) : ring / 2;
        double intended = start + interval * index / senders_;
        while (s.conn->open) {  // ends at the deadline
            const std::int64_t now = now_ns();
            if (now >= deadline_ns_) break;
            if (interval > 0 && now < intended) {
                s.wake->expires_at(
                    at_ns(std::min(deadline_ns_, static_cast<std::int64_t>(intended))));
                [[maybe_unused]] auto [ec] = co_await s.wake->async_wait(use_tuple);
                continue;
            }
            if (s.outstanding >= window || s.next_seq - 1 - s.complete >= lag) {
                s.waiting = true;
                s.wake->expires_at(at_ns(deadline_ns_));
                [[maybe_unused]] auto [ec] = co_await s.wake->async_wait(use_tuple);
                s.waiting = false;
                continue;
            }
            std::int64_t stamp = now;
            if (interval > 0) {
                stamp = static_cast<std::int64_t>(intended);  // latency counts from the schedule
                if (now - stamp > interval) ++s.late;
                intended += interval;
            }
            send(index, stamp);
        }
        done->done();
    }

    void send(int index, std::int64_t stamp) {
        auto& s = senders_state_[static_cast<std::size_t>(index)];
        const std::int64_t seq = s.next_seq++;
        const std::size_t slot = static_cast<std::size_t>(seq) & mask;
        s.sent_ns[slot] = now_ns();
        s.delivered[slot] = 0;
        s.state[slot] = 0;
        ++s.outstanding;
        char content[96];
        std::snprintf(content, sizeof content, "b:%d:%lld:%lld", index, static_cast<long long>(seq),
                      static_cast<long long>(stamp));
        char frame[256];
        std::snprintf(
            frame, sizeof frame,
            R"({"message_type":"channel_message","channel":%lld,"content":"%s","request_id":%lld})",
            static_cast<long long>(channel_), content, static_cast<long long>(seq));
        ws_send(s.conn, frame);
    }

    void wake(sender_state& s) {
        if (s.waiting) s.wake->cancel();
    }

    void advance(sender_state& s) {
        while (s.complete + 1 < s.next_seq) {  // at most the in-flight messages
            const std::size_t slot = static_cast<std::size_t>(s.complete + 1) & mask;
            if (s.state[slot] != 2 && s.delivered[slot] < members_) break;
            s.delivered[slot] = 0;
            ++s.complete;
        }
    }

    // "b:<sender>:<seq>:<t_ns>"
    static bool parse_content(std::string_view c, int& sender, std::int64_t& seq, std::int64_t& t) {
        if (c.size() < 8 || c.substr(0, 2) != "b:") return false;
        const char* p = c.data() + 2;
        const char* end = c.data() + c.size();
        auto r1 = std::from_chars(p, end, sender);
        if (r1.ec != std::errc{} || r1.ptr == end || *r1.ptr != ':') return false;
        auto r2 = std::from_chars(r1.ptr + 1, end, seq);
        if (r2.ec != std::errc{} || r2.ptr == end || *r2.ptr != ':') return false;
        auto r3 = std::from_chars(r2.ptr + 1, end, t);
        return r3.ec == std::errc{} && r3.ptr == end;
    }

    void on_message(ws_conn& c, const json::object& f, std::int64_t at) {
        if (int_field(f, "channel_id") != channel_) return;
        int sender = 0;
        std::int64_t seq = 0, stamp = 0;
        if (!parse_content(string_field(f, "content"), sender, seq, stamp) || sender < 0 ||
            sender >= senders_) {
            ++foreign_frames_;
            return;
        }
        const std::size_t k = static_cast<std::size_t>(c.index * senders_ + sender);
        if (seq <= last_seq_[k]) {
            ++out_of_order_;  // a duplicate or a late frame behind a newer one
            return;
        }
        last_seq_[k] = seq;
        ++received_[k];
        ++delivered_total_;
        auto& s = senders_state_[static_cast<std::size_t>(sender)];
        if (seq > s.complete && seq < s.next_seq) {
            ++s.delivered[static_cast<std::size_t>(seq) & mask];
            advance(s);
            wake(s);
        }
        const bool sent_in_window = stamp >= measure_ns_ && stamp < deadline_ns_;
        if (sent_in_window) {
            latency_.record(at - stamp);
            if (c.instance == 1) cross_latency_.record(at - stamp);
        }
        if (at >= measure_ns_ && at <= deadline_ns_) {
            ++deliveries_window_;
            if (c.instance == 1) ++cross_window_;
        }
    }

    void on_ack(ws_conn& c, const json::object& f, std::int64_t at) {
        const int sender = member_sender_[static_cast<std::size_t>(c.index)];
        if (sender < 0 || string_field(f, "message_type") != "channel_message") return;
        auto& s = senders_state_[static_cast<std::size_t>(sender)];
        const std::int64_t seq = int_field(f, "request_id");
        const std::size_t slot = static_cast<std::size_t>(seq) & mask;
        if (seq < 1 || seq >= s.next_seq || seq <= s.next_seq - static_cast<std::int64_t>(ring) ||
            s.state[slot] != 0) {
            ++stray_acks_;
            return;
        }
        s.state[slot] = 1;
        if (const auto* d = f.if_contains("duplicate"); d && d->is_bool() && d->as_bool()) {
            ++duplicate_acks_;
        }
        --s.outstanding;
        ++s.acked;
        const std::int64_t sent = s.sent_ns[slot];
        if (sent >= measure_ns_ && sent < deadline_ns_) ack_latency_.record(at - sent);
        if (at >= measure_ns_ && at <= deadline_ns_) ++acks_window_;
        wake(s);
    }

    void on_error(ws_conn& c, const json::object& f) {
        ++errors_;
        if (first_error_.empty()) {
            first_error_ =
                std::string(string_field(f, "code")) + ": " + std::string(string_field(f, "error"));
            if (string_field(f, "code") == "rate_limited") first_error_ += rate_limit_hint(429);
        }
        const int sender = member_sender_[static_cast<std::size_t>(c.index)];
        const json::value* rid = f.if_contains("request_id");
        if (sender < 0 || rid == nullptr || !rid->is_int64()) return;
        auto& s = senders_state_[static_cast<std::size_t>(sender)];
        const std::int64_t seq = rid->as_int64();
        const std::size_t slot = static_cast<std::size_t>(seq) & mask;
        if (seq < 1 || seq >= s.next_seq || seq <= s.next_seq - static_cast<std::int64_t>(ring) ||
            s.state[slot] != 0) {
            return;
        }
        --s.outstanding;
        ++s.refused;
        s.state[slot] = 2;
        advance(s);
        wake(s);
    }

    void finish() {
        finishing_ = true;
        for (auto& s : senders_state_) {
            if (s.wake) s.wake->cancel();
        }
        for (auto& c : conns_) {
            if (!c) continue;
            c->sink = nullptr;
            ws_abort(*c);
        }
    }

    void report() {
        result& r = ctx_.res;
        const double d = o_.duration_s;
        std::int64_t acked = 0, refused = 0, outstanding = 0, late = 0;
        for (const auto& s : senders_state_) {
            acked += s.acked;
            refused += s.refused;
            outstanding += s.outstanding;
            late += s.late;
        }
        std::int64_t lost = 0;
        for (int i = 0; i < members_; ++i) {
            for (int s = 0; s < senders_; ++s) {
                const std::int64_t want = senders_state_[static_cast<std::size_t>(s)].acked;
                const std::int64_t got = received_[static_cast<std::size_t>(i * senders_ + s)];
                if (got < want) lost += want - got;
            }
        }
        const bool two = o_.scenario == "S7";
        r.set("members", static_cast<std::int64_t>(members_));
        if (two) r.set("members_on_second", static_cast<std::int64_t>(second_members_));
        r.set("senders", static_cast<std::int64_t>(senders_));
        r.set("duration_s", d);
        if (o_.rate > 0) {
            r.set("offered_msgs_per_s", o_.rate);
            r.set("offered_deliveries_per_s", o_.rate * members_);
        } else {
            r.set("window", static_cast<std::int64_t>(o_.window));
            r.set("lag", static_cast<std::int64_t>(o_.lag));
        }
        r.set("messages", acks_window_);
        r.set("messages_per_s", acks_window_ / d);
        r.set("deliveries", deliveries_window_);
        r.set("deliveries_per_s", deliveries_window_ / d);
        if (two) {
            r.set("cross_deliveries", cross_window_);
            r.set("cross_deliveries_per_s", cross_window_ / d);
        }
        add_latency(r, "", latency_);
        if (two) add_latency(r, "cross_", cross_latency_);
        add_latency(r, "ack_", ack_latency_);
        r.set("acked_total", acked);
        r.set("delivered_total", delivered_total_);
        r.set("lost", lost);
        r.set("out_of_order", out_of_order_);
        r.set("errors", errors_);
        r.set("unacknowledged", outstanding);
        r.set("unexpected_closes", unexpected_closes_);
        if (o_.rate > 0) r.set("late_sends", late);
        r.set("drain_s", drain_s_);
        cpu_.report(r, {{"message", acks_window_}, {"delivery", deliveries_window_}});
        report_problems(lost, outstanding, late, acked);
    }

    void report_problems(std::int64_t lost, std::int64_t outstanding, std::int64_t late,
                         std::int64_t acked) {
        result& r = ctx_.res;
        const bool two = o_.scenario == "S7";
        if (lost > 0) {
            r.problem(std::to_string(lost) +
                      " deliveries lost (acknowledged messages that did not "
                      "reach every member within the drain time)");
        }
        if (out_of_order_ > 0) {
            r.problem(std::to_string(out_of_order_) + " deliveries out of order or duplicated");
        }
        if (errors_ > 0)
            r.problem(std::to_string(errors_) + " error frames; first: " + first_error_);
        if (outstanding > 0) {
            r.problem(std::to_string(outstanding) + " channel_message requests never acknowledged");
        }
        for (const auto& [why, count] : close_reasons_) {
            r.problem(std::to_string(count) +
                      " socket(s) closed by the server during the run: " + why);
        }
        if (duplicate_acks_ > 0)
            r.problem(std::to_string(duplicate_acks_) + " acks marked duplicate");
        if (bad_frames_ > 0) r.problem(std::to_string(bad_frames_) + " unparsable frames");
        if (acks_window_ == 0) r.problem("no message was acknowledged in the measured window");
        if (two && cross_window_ == 0) {
            r.problem(
                "no cross-instance delivery in the measured window: the second instance did "
                "not deliver (REDIS_URL on both instances?)");
        }
        if (o_.rate > 0 && late * 20 > acked) {
            r.notes.push_back(std::to_string(late) +
                              " sends left more than one interval late: the offered rate was not "
                              "sustained (acks or deliveries lagged)");
        }
        if (stray_acks_ > 0) r.notes.push_back(std::to_string(stray_acks_) + " stray acks ignored");
        if (foreign_frames_ > 0) {
            r.notes.push_back(std::to_string(foreign_frames_) + " messages not sent by this run");
        }
    }

    run_ctx& ctx_;
    const options& o_;
    int members_ = 0;
    int senders_ = 1;
    int second_members_ = 0;
    std::int64_t channel_ = 0;
    std::vector<ws_ptr> conns_;
    std::vector<int> sender_member_;
    std::vector<int> member_sender_;
    std::vector<sender_state> senders_state_;
    std::vector<std::int64_t> last_seq_;  // [member * senders + sender]
    std::vector<std::int64_t> received_;
    std::int64_t measure_ns_ = std::numeric_limits<std::int64_t>::max();
    std::int64_t deadline_ns_ = std::numeric_limits<std::int64_t>::max();
    std::int64_t last_frame_ns_ = 0;
    std::int64_t delivered_total_ = 0;
    std::int64_t deliveries_window_ = 0;
    std::int64_t cross_window_ = 0;
    std::int64_t acks_window_ = 0;
    std::int64_t out_of_order_ = 0;
    std::int64_t errors_ = 0;
    std::int64_t unexpected_closes_ = 0;
    std::int64_t duplicate_acks_ = 0;
    std::int64_t stray_acks_ = 0;
    std::int64_t bad_frames_ = 0;
    std::int64_t foreign_frames_ = 0;
    double drain_s_ = 0;
    std::string first_error_;
    std::map<std::string, std::int64_t> close_reasons_;
    histogram latency_, cross_latency_, ack_latency_;
    cpu_probe cpu_;
    bool finishing_ = false;
};

}  // namespace

task<void> run_channel_load(run_ctx& ctx) {
    auto bench = std::make_shared<channel_bench>(ctx);
    ctx.keep.push_back(bench);
    co_await bench->run();
}

}  // namespace parley::bench
