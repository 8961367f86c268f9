// Request pipeline: preflight → route → auth → endpoint → error table → common headers.
#include "api/application.hpp"

#include "api/errors.hpp"
#include "api/failures.hpp"
#include "api/router.hpp"
#include "auth/random.hpp"
#include "core/ip_address.hpp"
#include "media/upload.hpp"

#include <algorithm>

namespace parley::api {

namespace {

constexpr std::string_view cors_allow_methods = "DELETE, GET, OPTIONS, PATCH, POST, PUT";
constexpr std::string_view cors_allow_headers =
    "accept, authorization, content-type, idempotency-key, user-agent, x-csrftoken, "
    "x-request-id, x-requested-with";
constexpr std::string_view cors_expose_headers =
    "Content-Disposition, Link, Retry-After, X-Request-Id";

bool valid_request_id(std::string_view id) {
    if (id.empty() || id.size() > 64) return false;
    return std::all_of(id.begin(), id.end(), [](char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
               c == '.' || c == '_' || c == '-';
    });
}

// Room for multipart framing (boundaries, part headers, small fields) on top of the file's own
// limit: the file is held to PARLEY_MAX_UPLOAD_BYTES exactly by the sink (§0.8, §7.1).
constexpr std::size_t multipart_overhead_bytes = 64 * 1024;

// §7.3: every media response carries a sandboxing CSP.
constexpr std::string_view media_csp = "default-src 'none'; sandbox";

// Keeps exceptions inside the per-request boundary for the sink's later calls, which net/ makes
// outside handle(): they become the contract's error through the one mapping (api/failures).
class guarded_sink final : public body_sink {
public:
    guarded_sink(std::unique_ptr<body_sink> inner, std::string what)
        : inner_(std::move(inner)), what_(std::move(what)) {}

    core::result<void> write(std::string_view chunk) override {
        try {
            return inner_->write(chunk);
        } catch (...) {
            inner_->abort();
            return error_of_current_exception(what_);
        }
    }
    core::result<response> finish() override {
        try {
            return inner_->finish();
        } catch (...) {
            inner_->abort();
            return error_of_current_exception(what_);
        }
    }
    void abort() noexcept override { inner_->abort(); }

private:
    std::unique_ptr<body_sink> inner_;
    std::string what_;
};

// Whether the head says a body follows: a non-zero Content-Length or any Transfer-Encoding.
bool announces_body(const request& head) {
    if (head.header("transfer-encoding")) return true;
    const auto length = head.header("content-length");
    return length && length->find_first_not_of("0 \t") != std::string_view::npos;
}

std::string join(const std::vector<std::string_view>& items) {
    std::string out;
    for (const auto& i : items) {
        if (!out.empty()) out += ", ";
        out += i;
    }
    return out;
}

}  // namespace

application::application(services& deps) : services_(deps) {}

response application::handle(request req) {
    response resp;
    try {
        resp = dispatch(req);
    } catch (...) {
        resp = error_response(error_of_current_exception(req.method + " " + req.path));
    }
    finish(req, resp);
    return resp;
}

response application::reject(const request& partial, const core::error& e) {
    response resp = error_response(e);
    finish(partial, resp);
    return resp;
}

body_plan application::plan_body(const request& head) {
    const auto m = match_route(route_table(), head.method, head.path);
    body_plan plan;
    plan.route = m.found != nullptr ? m.found->path : m.path_template;
    // No body is read for a protected route before its token verifies (§0.8): the header's form
    // and the token's signature and expiry, no database. handle() answers the same 401 for a
    // bodiless request, so only requests with a body are checked here (one HMAC, I/O thread).
    if (m.found != nullptr && m.found->auth == auth_mode::user && announces_body(head)) {
        if (auto ok = services_.auth.precheck_header(head.header("authorization")); !ok)
            plan.refuse = ok.error();
    }
    if (m.found == nullptr || m.found->body != body_kind::upload) return plan;
    const std::size_t max = services_.settings.http.max_upload_bytes;
    plan.limit = max + multipart_overhead_bytes;
    plan.streamed = m.found->open != nullptr;
    plan.too_large = media::file_too_large(max);
    return plan;
}

stream_start application::open_stream(const request& head) {
    stream_start out;
    try {
        out.refusal = dispatch(head, &out);
    } catch (...) {
        out.sink.reset();
        out.refusal = error_response(error_of_current_exception(head.method + " " + head.path));
    }
    if (out.sink) {
        out.sink =
            std::make_unique<guarded_sink>(std::move(out.sink), head.method + " " + head.path);
        return out;
    }
    finish(head, out.refusal);
    return out;
}

response application::finish_stream(const request& head, std::unique_ptr<body_sink> sink) {
    auto r = sink->finish();  // guarded: never throws
    response resp = r ? std::move(*r) : error_response(r.error());
    finish(head, resp);
    return resp;
}

response application::dispatch(const request& req, stream_start* stream) {
    // CORS preflight on any path (§0.10).
    if (req.method == "OPTIONS" && req.header("access-control-request-method")) {
        response r;
        r.status = 200;
        return r;
    }
    const auto table = route_table();
    const auto m = match_route(table, req.method, req.path);
    if (!m.path_known) return error_response(core::not_found());
    if (req.method == "OPTIONS") {
        auto allow = m.allow;
        allow.push_back("OPTIONS");
        response r = json_response(200, json::object{});
        r.set_header("Allow", join(allow));
        return r;
    }
    if (m.found == nullptr) {
        auto allow = m.allow;
        allow.push_back("OPTIONS");
        response r = error_response(core::detail(core::errc::method_not_allowed,
                                                 "Method \"" + req.method + "\" not allowed."));
        r.set_header("Allow", join(allow));
        return r;
    }
    const route& rt = *m.found;
    context ctx{req, m.ids};
    ctx.texts = m.texts;
    std::optional<chat::principal> who;
    if (rt.auth == auth_mode::user) {
        auto p = services_.auth.authenticate_header(req.header("authorization"));
        if (!p) return error_response(p.error());
        who = std::move(*p);
        ctx.who = &*who;
    }
    // Throttling after authentication, as DRF does (§0.9); the request is not executed.
    if (const auto wait = throttle(rt.rate, req, who ? &*who : nullptr); wait > 0)
        return error_response(core::problem_at(core::problem_kind::throttled, {}, wait));
    if (rt.open != nullptr) {
        auto sink = rt.open(services_, ctx);
        if (!sink) return error_response(sink.error());
        if (stream != nullptr) {
            stream->sink = std::move(*sink);
            return {};
        }
        // A whole body (unit tests, or any caller that buffered it): the same sink, fed at once.
        if (auto w = (*sink)->write(req.body); !w) return error_response(w.error());
        auto done = (*sink)->finish();
        if (!done) return error_response(done.error());
        return std::move(*done);
    }
    auto out = rt.fn(services_, ctx);
    if (!out) return error_response(out.error());
    return std::move(*out);
}

std::int64_t application::throttle(rate_class rate, const request& req,
                                   const chat::principal* who) {
    const auto& limits = services_.settings.limits;
    if (rate == rate_class::auth)
        return services_.limiter.hit("auth", core::address_rate_key(req.remote_addr),
                                     limits.rate_auth, core::now_us());
    if (rate == rate_class::api && who != nullptr)
        return services_.limiter.hit("api", std::to_string(who->user.id), limits.rate_api,
                                     core::now_us());
    return 0;
}

void application::finish(const request& req, response& resp) const {
    const auto incoming = req.header("x-request-id");
    const std::string request_id =
        incoming && valid_request_id(*incoming) ? std::string(*incoming) : auth::random_hex(8);
    resp.set_header("X-Request-Id", request_id);
    if (!resp.body.empty() && std::none_of(resp.headers.begin(), resp.headers.end(),
                                           [](const auto& h) { return h.first == "Content-Type"; }))
        resp.set_header("Content-Type", "application/json");
    if (resp.status == 204) resp.body.clear();
    const bool has_cache_control =
        std::any_of(resp.headers.begin(), resp.headers.end(),
                    [](const auto& h) { return h.first == "Cache-Control"; });
    if ((req.path.starts_with("/api/") || req.path.starts_with("/ws/")) && !has_cache_control)
        resp.set_header("Cache-Control", "no-store");
    if (req.path.starts_with("/media/"))
        resp.set_header("Content-Security-Policy", std::string(media_csp));

    // CORS (§0.10): all origins by default, or the configured list echoed with Vary.
    const auto origin = req.header("origin");
    if (!origin) return;
    const auto& allowed = services_.settings.http.cors_origins;
    if (allowed.empty()) {
        resp.set_header("Access-Control-Allow-Origin", "*");
    } else if (std::find(allowed.begin(), allowed.end(), *origin) != allowed.end()) {
        resp.set_header("Access-Control-Allow-Origin", std::string(*origin));
        resp.set_header("Vary", "Origin");
    } else {
        return;
    }
    resp.set_header("Access-Control-Expose-Headers", std::string(cors_expose_headers));
    if (req.method == "OPTIONS" && req.header("access-control-request-method")) {
        resp.set_header("Access-Control-Allow-Methods", std::string(cors_allow_methods));
        resp.set_header("Access-Control-Allow-Headers", std::string(cors_allow_headers));
        resp.set_header("Access-Control-Max-Age", "86400");
    }
}

}  // namespace parley::api
