// The frame pipeline of API.md §8.3: rate bucket, parse, envelope (message_type, request_id),
// the frame table of §8.4, and the reply helpers every handler uses. Handlers are in
// frames_*.cpp.
#include "api/ws/protocol.hpp"

#include "api/failures.hpp"
#include "api/problems.hpp"
#include "api/ws/frames.hpp"
#include "chat/rate_limiter.hpp"
#include "core/server_metrics.hpp"
#include "core/time.hpp"

#include <spdlog/spdlog.h>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <exception>
#include <iterator>
#include <memory>
#include <string>

namespace parley::api {

namespace {

constexpr std::size_t max_request_id_chars = 64;  // §8.3

ws_frames::outcome ping(ws_frames::frame_request& req) {
    json::object f = ws_frames::reply_frame(req, "pong");
    f["server_time"] = server_time();
    return ws_frames::reply{f};
}

// §8.4 reauth: a fresh access token of the same user replaces the socket's, so the socket
// outlives the old token's expiry. Any other token (another user's, a refresh token, expired,
// revoked) is token_not_valid and changes nothing.
ws_frames::outcome reauth(ws_frames::frame_request& req) {
    using ws_frames::failure;
    const json::value* token = req.frame.if_contains("token");
    if (token == nullptr || token->is_null() || (token->is_string() && token->get_string().empty()))
        return failure{core::error_shape(core::errc::required, "This field is required.", "token")};
    if (!token->is_string())
        return failure{core::error_shape(core::errc::invalid, "Not a valid string.", "token")};
    auto who = req.svc().auth.authenticate_token(token->get_string());
    if (!who || who->user.id != req.user().id)
        return failure{
            core::error_shape(core::errc::token_not_valid, "Token is invalid or expired", "token")};
    req.ctx.credentials.set({who->jti, who->exp, who->gen, who->fam});
    return ws_frames::ack{{{"expires_at", core::iso8601(core::from_unix_seconds(who->exp))}}};
}

struct frame_type {
    std::string_view message_type;
    ws_frames::handler run;
    // The handler's own rules refuse control characters in every string it reads (reaction,
    // §6.8), so U+0000 gets their text rather than the generic one (§0.3).
    bool own_nul_rule = false;
};

// Every client request of §8.4.
constexpr frame_type frame_table[] = {
    {"channel_message", ws_frames::channel_message},
    {"direct_message", ws_frames::direct_message},
    {"forward_message", ws_frames::forward_message},
    {"team_notification", ws_frames::team_notification},
    {"create_channel", ws_frames::create_channel},
    {"add_team_member", ws_frames::add_team_member},
    {"get_channel_messages", ws_frames::get_channel_messages},
    {"get_direct_messages", ws_frames::get_direct_messages},
    {"get_team_channels", ws_frames::get_team_channels},
    {"get_team_members", ws_frames::get_team_members},
    {"get_interacted_users", ws_frames::get_interacted_users},
    {"get_user_presences", ws_frames::get_user_presences},
    {"delete_message", ws_frames::delete_message},
    {"edit_message", ws_frames::edit_message},
    {"reaction", ws_frames::reaction, true},
    {"pin_message", ws_frames::pin_message},
    {"unpin_message", ws_frames::unpin_message},
    {"typing", ws_frames::typing},
    {"ping", ping},
    {"resume", ws_frames::resume},
    {"reauth", reauth},
};

const frame_type* find_frame_type(std::string_view name) noexcept {
    const auto it = std::find_if(std::begin(frame_table), std::end(frame_table),
                                 [&](const frame_type& t) { return t.message_type == name; });
    return it == std::end(frame_table) ? nullptr : &*it;
}

// PARLEY_RATE_WS (§0.9): every frame received counts, bad ones included. Returns the seconds
// to wait, 0 when allowed. A bucket distinct from REST's "api".
std::int64_t ws_rate_wait(ws_session_context& ctx) {
    return ctx.svc.limiter.hit("ws", std::to_string(ctx.user.id), ctx.svc.settings.limits.rate_ws,
                               core::now_us());
}

// What an error frame of this request echoes: its message_type and request_id once known.
struct envelope {
    const json::value* message_type = nullptr;
    const json::value* request_id = nullptr;
};

// The envelope of §8.3: a string message_type and a valid or absent request_id. Fills `found`
// with what an error frame of the request echoes (an invalid request_id is never echoed; a
// non-string message_type is echoed as null, §13.6) and returns the envelope's own error.
std::optional<core::error> read_envelope(const json::object& frame, envelope& found) {
    const json::value* request_id = frame.if_contains("request_id");
    if (request_id != nullptr && request_id->is_null()) request_id = nullptr;
    const bool bad_request_id = request_id != nullptr && !valid_request_id(*request_id);
    found.request_id = bad_request_id ? nullptr : request_id;
    const json::value* type = frame.if_contains("message_type");
    if (type == nullptr || type->is_null())
        return core::error_shape(core::errc::required, "message_type is required", "message_type");
    if (!type->is_string())
        return core::error_shape(core::errc::invalid, "message_type must be a string",
                                 "message_type");
    found.message_type = type;
    if (bad_request_id)
        return core::error_shape(core::errc::invalid,
                                 "request_id must be a string of 1-64 characters or an integer",
                                 "request_id");
    return std::nullopt;
}

// One frame, answered: parse, envelope, dispatch, and the handler's outcome sent. Sets `env`
// before the handler runs, for the error frame of an exception.
void answer(ws_session_context& ctx, std::string_view text, envelope& env) {
    const json::value no_type;  // null: the request's message_type is unknown
    const std::int64_t wait = ws_rate_wait(ctx);
    // parley_ws_frames_received_total at every return: the known type, else `invalid`.
    struct count_received {
        std::string_view type = "invalid";
        ~count_received() { core::metrics::server_metrics::global().ws_frames_received.inc(type); }
    } received;
    auto parsed = parse_json(text);
    if (!parsed) {
        send_error(*ctx.conn, no_type, nullptr, parsed.error());
        return;
    }
    if (!parsed->is_object()) {
        send_error(*ctx.conn, no_type, nullptr,
                   core::detail(core::errc::parse_error, "Expected a JSON object."));
        return;
    }
    const json::object& frame = parsed->as_object();
    envelope found;
    const auto refuse = [&](const core::error& e) {
        send_error(*ctx.conn, found.message_type ? *found.message_type : no_type, found.request_id,
                   e);
    };
    if (auto bad = read_envelope(frame, found)) return refuse(*bad);
    const std::string_view name = found.message_type->get_string();
    const frame_type* t = find_frame_type(name);
    if (t == nullptr)
        return refuse(core::error_shape(core::errc::unknown_message_type,
                                        "Unknown message type: " + std::string(name)));
    received.type = t->message_type;
    // U+0000 in any string of the frame (§0.3): refused before any handler reads it.
    if (auto key = t->own_nul_rule ? std::nullopt : key_with_nul(frame))
        return refuse(nul_error(std::move(*key), core::shape::error));
    // Over PARLEY_RATE_WS: the request is not executed (§0.9).
    if (wait > 0) return refuse(core::problem_at(core::problem_kind::throttled, {}, wait));
    env = found;
    ws_frames::frame_request req{ctx, frame, *found.message_type, found.request_id};
    ws_frames::send_outcome(req, t->run(req));
}

}  // namespace

void handle_text(ws_session_context& ctx, std::string_view text) {
    envelope env;
    try {
        answer(ctx, text, env);
    } catch (...) {
        // The one catch of the WebSocket path: the socket stays open (STYLE.md: a bad frame
        // never kills the session), and the request hears of it when it got that far.
        const json::value no_type;
        const std::string where = "websocket frame of " + ctx.conn->connection_id();
        send_error(*ctx.conn, env.message_type ? *env.message_type : no_type, env.request_id,
                   error_of_current_exception(where));
    }
}

void handle_binary(ws_session_context& ctx) {
    (void)ws_rate_wait(ctx);  // counts like any frame; the answer is the same either way
    core::metrics::server_metrics::global().ws_frames_received.inc("invalid");
    send_error(*ctx.conn, json::value(), nullptr,
               core::detail(core::errc::parse_error, "Binary frames are not supported."));
}

void send_json(ws_connection& conn, const json::object& frame) {
    conn.send(fanout::frame{fanout::frame_kind::event,
                            std::make_shared<const std::string>(json::serialize(frame))});
}

json::object error_frame(const json::value& message_type, const json::value* request_id,
                         const core::error& problem) {
    const core::error e = render_ws(problem);
    std::string message = e.message;
    std::string field = e.field;
    if (e.body == core::shape::field && !e.fields.empty()) {
        if (message.empty() && !e.fields.front().messages.empty())
            message = e.fields.front().messages.front();
        if (field.empty()) field = e.fields.front().field;
    }
    json::object f;
    f["type"] = "error";
    f["message_type"] = message_type.is_string() ? message_type : json::value();
    if (request_id) f["request_id"] = *request_id;
    f["error"] = message;
    f["code"] = core::to_string(e.code);
    if (!field.empty()) f["field"] = field;
    if (e.code == core::errc::rate_limited) f["retry_after"] = e.retry_after_s;
    return f;
}

void send_error(ws_connection& conn, const json::value& message_type, const json::value* request_id,
                const core::error& problem) {
    const core::error e = render_ws(problem);
    core::metrics::server_metrics::global().ws_errors.inc({core::to_string(e.code)});
    send_json(conn, error_frame(message_type, request_id, e));
}

bool valid_request_id(const json::value& v) noexcept {
    if (v.is_int64() || v.is_uint64()) return true;
    if (!v.is_string()) return false;
    const auto& s = v.get_string();
    if (s.empty() || s.find('\0') != json::string::npos) return false;
    // Characters are code points: count the bytes that do not continue a UTF-8 sequence.
    std::size_t chars = 0;
    for (const char c : s)
        if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++chars;
    return chars <= max_request_id_chars;
}

std::string server_time() {
    return core::iso8601(core::now_us());
}

// ---- helpers shared by the frame handlers (frames.hpp)

namespace ws_frames {

json::object reply_frame(const frame_request& req, std::string_view type) {
    json::object f;
    f["type"] = type;
    if (req.request_id) f["request_id"] = *req.request_id;
    return f;
}

namespace {

void send_ack(const frame_request& req, const json::object& keys) {
    if (!req.request_id) return;
    json::object f;
    f["type"] = "ack";
    f["message_type"] = req.message_type;
    f["request_id"] = *req.request_id;
    for (const auto& kv : keys) f[kv.key()] = kv.value();
    send_json(*req.ctx.conn, f);
}

void send_failure(const frame_request& req, const core::error& problem, const json::object& extra) {
    core::error e = render_ws(problem);
    if (e.code ==
        core::errc::throttled) {  // a REST-worded refusal of a service not yet on problems
        e = render_ws(core::problem_at(core::problem_kind::throttled, e.field, e.retry_after_s));
    }
    core::metrics::server_metrics::global().ws_errors.inc({core::to_string(e.code)});
    json::object f = error_frame(req.message_type, req.request_id, e);
    for (const auto& kv : extra) f[kv.key()] = kv.value();
    send_json(*req.ctx.conn, f);
}

}  // namespace

void send_outcome(const frame_request& req, const outcome& out) {
    if (const auto* a = std::get_if<ack>(&out)) {
        send_ack(req, a->keys);
    } else if (const auto* r = std::get_if<reply>(&out)) {
        send_json(*req.ctx.conn, r->frame);
    } else {
        const auto& f = std::get<failure>(out);
        send_failure(req, f.error, f.extra);
    }
}

std::string_view pick_key(const json::object& o, std::string_view primary,
                          std::string_view alias) noexcept {
    if (is_missing(o, primary) && !is_missing(o, alias)) return alias;
    return primary;
}

std::string invalid_id_text(const json::value& v) {
    return invalid_pk_text(v);
}

core::result<std::optional<model::id>> optional_id(const json::object& o, std::string_view key) {
    if (is_missing(o, key)) return std::optional<model::id>();
    const json::value& v = o.at(key);
    if (const auto id = to_id(v)) return std::optional<model::id>(*id);
    return core::error_shape(core::errc::invalid, invalid_id_text(v), std::string(key));
}

core::result<model::id> required_id(const json::object& o, std::string_view key) {
    auto id = optional_id(o, key);
    if (!id) return id.error();
    if (!*id)
        return core::error_shape(core::errc::required, "This field is required.", std::string(key));
    return **id;
}

core::error renamed(core::error e, std::string_view from, std::string_view to) {
    if (from == to) return e;
    if (e.field == from) e.field = std::string(to);
    for (auto& f : e.fields)
        if (f.field == from) f.field = std::string(to);
    for (auto& p : e.problems)
        if (p.field == from) p.field = std::string(to);
    return e;
}

core::error at_field(core::error e, std::string_view field) {
    if (!e.problems.empty()) {
        if (e.problems.front().field.empty()) e.problems.front().field = std::string(field);
        if (e.field.empty()) e.field = e.problems.front().field;
        return e;
    }
    if (e.field.empty() && e.fields.empty()) e.field = std::string(field);
    return e;
}

std::optional<std::string> dedupe_key(const frame_request& req) {
    if (!req.request_id) return std::nullopt;
    if (req.request_id->is_string()) return std::string(req.request_id->get_string());
    return json::serialize(*req.request_id);
}

}  // namespace ws_frames

}  // namespace parley::api
