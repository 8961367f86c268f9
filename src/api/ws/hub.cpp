// Handshake, subscriptions, presence and revocation of the WebSocket (API.md §8.1, §8.7, §8.9,
// §2.3). Frames themselves are protocol.cpp's.
#include "api/ws/hub.hpp"

#include "api/close_codes.hpp"
#include "api/errors.hpp"
#include "api/failures.hpp"
#include "api/json.hpp"
#include "api/ws/protocol.hpp"
#include "core/server_metrics.hpp"
#include "core/text.hpp"

#include <spdlog/spdlog.h>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <optional>
#include <string_view>
#include <utility>

namespace parley::api {

namespace {

constexpr std::uint16_t close_revoked = close_code::token_revoked;  // §8.2
constexpr int protocol_version = 1;  // the `protocol` of hello (§8.1)
// The longest a new socket waits for its channel subscriptions before hello (§13.2).
constexpr std::chrono::milliseconds subscribe_wait{2000};

// Where the access token came from (§8.1 precedence).
struct token_source {
    std::optional<std::string> token;
    bool malformed = false;    // a token was offered in a form that cannot be valid
    bool subprotocol = false;  // answered with Sec-WebSocket-Protocol: bearer
};

std::vector<std::string_view> split_ws(std::string_view s) {
    std::vector<std::string_view> out;
    std::size_t i = 0;
    while (i < s.size()) {
        while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
        const std::size_t start = i;
        while (i < s.size() && s[i] != ' ' && s[i] != '\t') ++i;
        if (i > start) out.push_back(s.substr(start, i - start));
    }
    return out;
}

token_source find_token(const request& req) {
    token_source src;
    // 1. Authorization: Bearer <token>; another scheme is ignored (§2.2).
    if (const auto header = req.header("authorization")) {
        const auto parts = split_ws(*header);
        if (!parts.empty() && core::ascii_lower(parts[0]) == "bearer") {
            if (parts.size() == 2) {
                src.token = std::string(parts[1]);
            } else {
                src.malformed = true;
            }
            return src;
        }
    }
    // 2. Sec-WebSocket-Protocol offering exactly "bearer, <token>".
    if (const auto protocols = req.header("sec-websocket-protocol")) {
        std::vector<std::string_view> offered;
        std::string_view rest = *protocols;
        while (!rest.empty()) {
            const auto comma = rest.find(',');
            offered.push_back(core::trim(rest.substr(0, comma)));
            rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
        }
        if (offered.size() == 2 && offered[0] == "bearer" && !offered[1].empty()) {
            src.token = std::string(offered[1]);
            src.subprotocol = true;
            return src;
        }
    }
    // 3. ?token=<token> (the SynQ frontend).
    if (auto q = query_param(req.query, "token"); q && !q->empty()) src.token = std::move(q);
    return src;
}

std::string join_groups(const std::vector<model::id>& ids, char sign, const char* prefix) {
    std::string out;
    for (const auto id : ids) {
        if (!out.empty()) out += ' ';
        out += sign;
        out += prefix;
        out += std::to_string(id);
    }
    return out;
}

// The handshake's answer for a verified user who got a connection slot.
ws_accept accepted_as(const chat::principal& who, std::shared_ptr<void> slot, bool subprotocol) {
    ws_accept out;
    out.accepted = true;
    out.slot = std::move(slot);
    out.user_id = who.user.id;
    out.username = who.user.username;
    out.access_jti = who.jti;
    out.access_exp = who.exp;
    out.access_gen = who.gen;
    out.access_fam = who.fam;
    if (subprotocol) out.subprotocol = "bearer";
    return out;
}

// Waits (at most subscribe_wait in all) until the bus confirms the socket's channel groups.
void await_subscriptions(fanout::bus& bus, const std::vector<model::id>& channels,
                         const ws_connection& conn) {
    const auto deadline = std::chrono::steady_clock::now() + subscribe_wait;
    for (const auto channel : channels) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0 || !bus.await_subscribed(fanout::channel_group(channel), left)) {
            spdlog::warn("ws {}: hello before every channel subscription was confirmed",
                         conn.connection_id());
            break;
        }
    }
}

// The §8.1 hello frame.
std::string hello_frame(model::id user, const std::string& username, const ws_connection& conn) {
    json::object hello;
    hello["type"] = "hello";
    hello["user_id"] = user;
    hello["username"] = username;
    hello["connection_id"] = conn.connection_id();
    hello["server_time"] = server_time();
    hello["protocol"] = protocol_version;
    return json::serialize(hello);
}

}  // namespace

ws_hub::ws_hub(services& svc, http_handler& http, chat::realtime_service& realtime,
               fanout::bus& bus, fanout::stream_publisher& streams,
               fanout::presence_tracker& tracker, chat::event_sink& events)
    : svc_(svc),
      http_(http),
      realtime_(realtime),
      bus_(bus),
      streams_(streams),
      presence_(realtime, tracker, events, timers_, svc.settings.ws.presence_offline_delay) {
    timers_.every(revocation_sweep_interval, [this] { sweep_revoked(); });
}

ws_hub::~ws_hub() {
    stop();
}

void ws_hub::stop() {
    timers_.stop();
    presence_.flush();
}

response ws_hub::refuse(const request& req, const core::error& e) {
    return http_.reject(req, e);
}

ws_accept ws_hub::accept(const request& upgrade) {
    ws_accept out;
    try {
        const token_source src = find_token(upgrade);
        auto& failures = core::metrics::server_metrics::global().ws_handshake_failures;
        if (!src.token && !src.malformed) {
            failures.inc("not_authenticated");
            out.refusal = refuse(upgrade, core::detail(core::errc::not_authenticated,
                                                       "Authentication credentials were not "
                                                       "provided."));
            return out;
        }
        // One body for every bad token, user included, without SimpleJWT's messages (§8.1).
        const auto bad_token =
            core::detail(core::errc::token_not_valid, "Given token not valid for any token type");
        if (src.malformed) {
            failures.inc("token_not_valid");
            out.refusal = refuse(upgrade, bad_token);
            return out;
        }
        auto who = svc_.auth.authenticate_token(*src.token);
        if (!who) {
            failures.inc("token_not_valid");
            out.refusal = refuse(upgrade, bad_token);
            return out;
        }
        const auto& allowed = svc_.settings.http.cors_origins;
        const auto origin = upgrade.header("origin");
        if (origin && !allowed.empty() &&
            std::find(allowed.begin(), allowed.end(), *origin) == allowed.end()) {
            failures.inc("origin");
            out.refusal =
                refuse(upgrade, core::detail(core::errc::permission_denied, "Origin not allowed."));
            return out;
        }
        const auto cap =
            static_cast<std::size_t>(std::max(0, svc_.settings.ws.max_connections_per_user));
        auto slot = slot_table::take(slots_, who->user.id, cap);
        if (!slot) {
            failures.inc("too_many");
            out.refusal =
                refuse(upgrade, core::detail(core::errc::throttled, "Too many connections."));
            return out;
        }
        out = accepted_as(*who, std::move(slot), src.subprotocol);
    } catch (const core::unavailable&) {
        out = ws_accept{};
        out.refusal = refuse(upgrade, error_of_current_exception("websocket handshake"));
    }
    return out;
}

std::size_t ws_hub::connections_of(model::id user) const {
    std::lock_guard lock(mutex_);
    const auto it = per_user_.find(user);
    return it == per_user_.end() ? 0 : it->second;
}

std::size_t ws_hub::slots_of(model::id user) const {
    std::lock_guard lock(slots_->mutex);
    const auto it = slots_->taken.find(user);
    return it == slots_->taken.end() ? 0 : it->second;
}

std::shared_ptr<void> ws_hub::slot_table::take(const std::shared_ptr<slot_table>& self,
                                               model::id user, std::size_t cap) {
    {
        std::lock_guard lock(self->mutex);
        auto& n = self->taken[user];
        if (n >= cap) {
            if (n == 0) self->taken.erase(user);
            return nullptr;
        }
        ++n;
    }
    // Gives the slot back when the last copy goes; owns the table, so it may outlive the hub.
    struct slot {
        std::shared_ptr<slot_table> table;
        model::id user;
        // A constructor (not aggregate init): clang 14, which clang-tidy runs on, lacks C++20
        // parenthesized aggregate initialization in make_shared.
        slot(std::shared_ptr<slot_table> owner, model::id holder)
            : table(std::move(owner)), user(holder) {}
        slot(const slot&) = delete;
        slot& operator=(const slot&) = delete;
        ~slot() {
            std::lock_guard lock(table->mutex);
            const auto it = table->taken.find(user);
            if (it != table->taken.end() && --it->second == 0) table->taken.erase(it);
        }
    };
    return std::make_shared<slot>(self, user);
}

std::shared_ptr<ws_hub::connection_state> ws_hub::find(const ws_connection* conn) const {
    std::lock_guard lock(mutex_);
    const auto it = connections_.find(conn);
    return it == connections_.end() ? nullptr : it->second;
}

void ws_hub::on_open(const std::shared_ptr<ws_connection>& conn) {
    const model::id user = conn->user_id();
    auto st = std::make_shared<connection_state>();
    st->conn = conn;
    st->gate = std::make_shared<stream_gate>(conn, svc_.settings.ws.send_queue_bytes);
    const ws_accept& hs = conn->accepted();
    st->credentials.set({hs.access_jti, hs.access_exp, hs.access_gen, hs.access_fam});
    {
        auto placeholder = std::make_shared<model::user>();
        placeholder->id = user;
        st->user = std::move(placeholder);
    }
    {
        std::lock_guard lock(mutex_);
        connections_.emplace(conn.get(), st);
        if (++per_user_[user] == 1) core::metrics::server_metrics::global().online_users.inc();
    }
    // The user's own group first: a membership change committed while the rest is read arrives
    // as a control frame and is applied to the same group set (§8.7).
    apply_control(*st, "+" + fanout::user_group(user));
    auto subs = realtime_.subscriptions(user);
    if (!subs) {
        conn->close(close_revoked, "User not found.");
        return;
    }
    std::string items = join_groups(subs->teams, '+', "t:");
    const std::string channels = join_groups(subs->channels, '+', "c:");
    if (!channels.empty()) items += (items.empty() ? "" : " ") + channels;
    {
        std::lock_guard lock(st->mutex);
        st->user = std::make_shared<const model::user>(std::move(subs->user));
    }
    apply_control(*st, items);
    watch_expiry(st);
    // §13.2 across instances: hello only once other instances' frames of these channels reach
    // this socket (with Redis: the SUBSCRIBEs are confirmed; all are in flight at once, so this
    // is about one round trip). Bounded: past the deadline hello goes out anyway.
    await_subscriptions(bus_, subs->channels, *conn);
    // Presence after the subscriptions, so the user's own sockets get the online event; hello
    // last (§13.2).
    presence_.opened(user);
    {
        std::lock_guard lock(st->mutex);
        st->counted = true;
    }
    // Live event frames wait (at most initial_hold) for the first frame, which may be a resume.
    timers_.after(stream_gate::initial_hold, [gate = std::weak_ptr<stream_gate>(st->gate)] {
        if (const auto g = gate.lock()) g->release_initial();
    });
    // Through the gate: hello is the socket's first frame, the presence frames that arrived
    // meanwhile (the user's own online event among them) follow it (§8.1).
    st->gate->greet(hello_frame(user, st->user_now()->username, *conn));
}

void ws_hub::on_text(const std::shared_ptr<ws_connection>& conn, std::string_view text) {
    const auto st = find(conn.get());
    if (!st) return;
    const auto user = st->user_now();
    ws_session_context ctx{svc_, conn, *user, streams_, presence_, *st->gate, st->credentials};
    handle_text(ctx, text);  // answers every frame, failures included: never throws
    st->gate->end_resume();  // after resume's `resumed` reply, also after a failed resume
    st->gate->release_initial();
}

void ws_hub::on_binary(const std::shared_ptr<ws_connection>& conn) {
    const auto st = find(conn.get());
    if (!st) return;
    const auto user = st->user_now();
    ws_session_context ctx{svc_, conn, *user, streams_, presence_, *st->gate, st->credentials};
    handle_binary(ctx);
    st->gate->release_initial();
}

void ws_hub::on_control(const std::shared_ptr<ws_connection>& conn, std::string_view items) {
    if (const auto st = find(conn.get())) apply_control(*st, items);
}

void ws_hub::apply_control(connection_state& st, std::string_view items) {
    // Under the socket's mutex, so on_close never misses a group added concurrently. Lock order:
    // socket, then bus (the bus never calls back into the hub while holding its lock).
    std::lock_guard lock(st.mutex);
    if (st.closed) return;
    for (const auto item : split_ws(items)) {
        if (item.size() < 2) continue;
        const std::string group(item.substr(1));
        if (item[0] == '+') {
            if (st.groups.insert(group).second) bus_.subscribe(group, st.gate);
        } else if (item[0] == '-') {
            if (st.groups.erase(group) > 0) {
                bus_.unsubscribe(group, st.gate.get());
                if (group.starts_with("c:")) st.gate->forget(std::atoll(group.c_str() + 2));
            }
        } else if (item[0] == '!') {
            // logout_all, a password change, a deactivation (§2.3): tokens below this
            // generation are revoked.
            const auto generation = core::parse_id(group);
            if (generation && st.credentials.get().gen < *generation)
                st.conn->close(close_revoked, "Token revoked.");
        }
    }
}

void ws_hub::watch_expiry(const std::shared_ptr<connection_state>& st) {
    const auto exp = core::from_unix_seconds(st->credentials.get().exp);
    const auto delay =
        std::chrono::microseconds(std::max<core::timestamp>(0, exp - core::now_us()));
    timers_.after(delay, [this, weak = std::weak_ptr<connection_state>(st)] {
        const auto s = weak.lock();
        if (!s) return;
        {
            std::lock_guard lock(s->mutex);
            if (s->closed) return;
        }
        // The same rule as token verification: expired when exp * 10^6 <= now (§2.1).
        if (core::from_unix_seconds(s->credentials.get().exp) <= core::now_us()) {
            s->conn->close(close_revoked, "Token expired.");
        } else {
            watch_expiry(s);  // a reauth moved the expiry
        }
    });
}

void ws_hub::on_close(const std::shared_ptr<ws_connection>& conn) {
    std::shared_ptr<connection_state> st;
    {
        std::lock_guard lock(mutex_);
        const auto it = connections_.find(conn.get());
        if (it == connections_.end()) return;
        st = std::move(it->second);
        connections_.erase(it);
        const auto u = per_user_.find(conn->user_id());
        if (u != per_user_.end() && --u->second == 0) {
            per_user_.erase(u);
            core::metrics::server_metrics::global().online_users.dec();
        }
    }
    std::set<std::string> groups;
    bool counted = false;
    {
        std::lock_guard lock(st->mutex);
        st->closed = true;
        groups.swap(st->groups);
        counted = st->counted;
    }
    for (const auto& g : groups) bus_.unsubscribe(g, st->gate.get());
    if (counted) presence_.closed(conn->user_id());
}

void ws_hub::sweep_revoked() {
    std::vector<std::shared_ptr<connection_state>> open;
    {
        std::lock_guard lock(mutex_);
        open.reserve(connections_.size());
        for (const auto& [key, st] : connections_) open.push_back(st);
    }
    if (open.empty()) return;
    std::vector<std::string> keys;
    std::vector<model::id> users;
    for (const auto& st : open) {
        auto t = st->credentials.get();
        keys.push_back(std::move(t.jti));
        if (!t.fam.empty()) keys.push_back(chat::family_key(t.fam));
        users.push_back(st->conn->user_id());
    }
    std::sort(keys.begin(), keys.end());
    keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
    std::sort(users.begin(), users.end());
    users.erase(std::unique(users.begin(), users.end()), users.end());
    chat::revoked_set revoked;
    try {
        revoked = realtime_.revoked_among(keys, users);
    } catch (const std::exception& e) {
        spdlog::warn("websocket revocation sweep skipped: {}", e.what());
        return;
    }
    for (const auto& st : open) sweep_one(*st, revoked);
}

void ws_hub::sweep_one(connection_state& st, const chat::revoked_set& revoked) {
    const auto t = st.credentials.get();
    const auto blacklisted = [&](const std::string& key) {
        return !key.empty() && std::binary_search(revoked.keys.begin(), revoked.keys.end(), key);
    };
    const auto state =
        std::lower_bound(revoked.users.begin(), revoked.users.end(), st.conn->user_id(),
                         [](const store::user_state& s, model::id id) { return s.user < id; });
    if (state == revoked.users.end() || state->user != st.conn->user_id() || !state->is_active) {
        st.conn->close(close_revoked, "User inactive.");
        return;
    }
    if (blacklisted(t.jti) || blacklisted(chat::family_key(t.fam)) ||
        t.gen < state->token_generation) {
        st.conn->close(close_revoked, "Token revoked.");
        return;
    }
    // Staff status gained or lost applies to the next frame (§1.2), not the next connect.
    std::lock_guard lock(st.mutex);
    if (st.user &&
        (st.user->is_staff != state->is_staff || st.user->is_superuser != state->is_superuser)) {
        auto updated = std::make_shared<model::user>(*st.user);
        updated->is_staff = state->is_staff;
        updated->is_superuser = state->is_superuser;
        st.user = std::move(updated);
    }
}

}  // namespace parley::api
