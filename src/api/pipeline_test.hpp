// Test fixture shared by the api/ unit tests: the whole request pipeline (application) over
// services whose store must never be reached, for decisions made before any store access
// (routing, 404/405, body plans, parsing).
#pragma once

#include "api/application.hpp"
#include "chat/message_service.hpp"
#include "chat/team_service.hpp"

#include <atomic>
#include <functional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace parley::api::testing {

// A store that must not be reached: routing decisions come before any authentication.
class unreachable_store final : public parley::store::store {
public:
    std::string_view backend() const noexcept override { return "none"; }
    void migrate() override {}
    std::vector<std::string> pending_migrations() override { return {}; }
    bool ping() noexcept override { return false; }
    void run(bool, const std::function<bool(parley::store::tx&)>&) override {
        throw std::logic_error("the store was reached");
    }
};

struct pipeline {
    unreachable_store db;
    config::settings settings;
    auth::jwt_codec jwt{std::string(32, 'k')};
    auth::password_hasher hasher;
    auth::password_pool passwords{hasher, 1, 2};
    chat::local_rate_limiter limiter;
    chat::null_event_sink events;
    chat::auth_service auth{
        db, jwt, passwords, settings.auth, events, limiter, settings.limits.rate_login_failures};
    chat::user_service users{db};
    chat::team_service teams{db, settings.limits};
    chat::channel_service channels{db};
    chat::local_idempotency_store dedupe;
    chat::message_service messages{db, events, limiter, dedupe, settings.limits};
    std::atomic<bool> shutting_down{false};
    services s{auth,         users,   teams,    channels,
               messages,     limiter, settings, [] { return true; },
               shutting_down};
    application app{s};

    static request make(std::string method, std::string path) {
        request r;
        r.method = std::move(method);
        r.path = path;
        r.target = std::move(path);
        return r;
    }
    // The full answer to a request without a body.
    response call(std::string method, std::string path) {
        return app.handle(make(std::move(method), std::move(path)));
    }
    // How the pipeline would read the request's body (§0.8, §7.1).
    body_plan plan(std::string method, std::string path) {
        return app.plan_body(make(std::move(method), std::move(path)));
    }
};

}  // namespace parley::api::testing
