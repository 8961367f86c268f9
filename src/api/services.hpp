// What endpoints get: the chat services, settings and health probes, passed explicitly.
#pragma once

#include "api/http.hpp"
#include "api/json.hpp"
#include "chat/auth_service.hpp"
#include "chat/channel_service.hpp"
#include "chat/file_service.hpp"
#include "chat/message_service.hpp"
#include "chat/rate_limiter.hpp"
#include "chat/team_service.hpp"
#include "chat/user_service.hpp"
#include "config/settings.hpp"
#include "media/signer.hpp"

#include <atomic>
#include <functional>
#include <span>

namespace parley::api {

class link_previewer;

struct services {
    chat::auth_service& auth;
    chat::user_service& users;
    chat::team_service& teams;
    chat::channel_service& channels;
    chat::message_service& messages;
    chat::rate_limiter& limiter;
    const config::settings& settings;
    std::function<bool()> database_ready;  // /readyz probe (§10.3)
    const std::atomic<bool>& shutting_down;
    // /readyz Redis probe (§10.3): Redis answers and the fan-out is connected (2 s at most);
    // unset without REDIS_URL.
    std::function<bool()> redis_ready = {};
    // §7 files and link previews; set by app/ (null in tests that do not use them).
    chat::file_service* files = nullptr;
    const media::url_signer* media_urls = nullptr;
    link_previewer* previews = nullptr;
};

// One request as an endpoint sees it.
struct context {
    const request& req;
    std::span<const model::id> ids;           // path parameters in template order
    const chat::principal* who = nullptr;     // set on auth_mode::user routes
    std::span<const std::string_view> texts;  // `{name:str}` / `{name:path}` parameters

    [[nodiscard]] const model::user& user() const { return who->user; }
    // The JSON body (§0.3); `errors` is the endpoint's error shape, used for a refused string
    // (see parse_body for `refuse_nul`).
    [[nodiscard]] core::result<json::object> body(core::shape errors = core::shape::field,
                                                  bool refuse_nul = true) const {
        return parse_body(req, errors, refuse_nul);
    }
};

}  // namespace parley::api
