// The built-in web client (API.md §0.1: `/`, `/join-team/{code}`, `/static/...`) served from the
// files embedded at build time, and the OpenAPI document (§10.3).
#include "api/openapi.hpp"
#include "api/rest/endpoints.hpp"
#include "api/web_assets.hpp"

#include <string>

namespace parley::api::rest {

namespace {

// Same-origin everything; WebSocket included, since CSP Level 3 lets 'self' match ws:/wss: on the
// page's own host and port. Images may come from anywhere (link previews), never scripts.
constexpr std::string_view content_security_policy =
    "default-src 'self'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data: blob: https: http:; connect-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

std::string_view content_type(std::string_view name) {
    const auto dot = name.rfind('.');
    const auto ext = dot == std::string_view::npos ? std::string_view{} : name.substr(dot + 1);
    if (ext == "html") return "text/html; charset=utf-8";
    if (ext == "js" || ext == "mjs") return "text/javascript; charset=utf-8";
    if (ext == "css") return "text/css; charset=utf-8";
    if (ext == "svg") return "image/svg+xml";
    if (ext == "png") return "image/png";
    if (ext == "ico") return "image/x-icon";
    if (ext == "json") return "application/json";
    if (ext == "webmanifest") return "application/manifest+json";
    if (ext == "txt") return "text/plain; charset=utf-8";
    return "application/octet-stream";
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

// Calls f(item) for each comma-separated item of a header value.
template <class F>
void each_item(std::string_view value, F&& f) {
    while (!value.empty()) {
        const auto comma = value.find(',');
        f(trim(value.substr(0, comma)));
        if (comma == std::string_view::npos) break;
        value.remove_prefix(comma + 1);
    }
}

// RFC 9110 §12.5.3: gzip is acceptable when listed (or `*`) without q=0.
bool accepts_gzip(const request& req) {
    const auto header = req.header("accept-encoding");
    if (!header) return false;
    bool ok = false;
    each_item(*header, [&](std::string_view item) {
        const auto semi = item.find(';');
        const auto coding = trim(item.substr(0, semi));
        if (coding != "gzip" && coding != "*") return;
        bool zero = false;
        if (semi != std::string_view::npos) {
            auto params = trim(item.substr(semi + 1));
            if (params.starts_with("q=") || params.starts_with("Q=")) {
                auto q = params.substr(2);
                zero = !q.empty() && q.find_first_not_of("0.") == std::string_view::npos;
            }
        }
        if (coding == "gzip")
            ok = !zero;  // an explicit gzip entry decides
        else if (!zero && !ok)
            ok = true;
    });
    return ok;
}

// RFC 9110 §13.1.2: If-None-Match uses the weak comparison; `*` matches any current file.
bool not_modified(const request& req, std::string_view etag, std::string_view gzip_etag) {
    const auto header = req.header("if-none-match");
    if (!header) return false;
    bool hit = false;
    each_item(*header, [&](std::string_view tag) {
        if (tag.starts_with("W/")) tag.remove_prefix(2);
        if (tag == "*" || tag == etag || tag == gzip_etag) hit = true;
    });
    return hit;
}

response serve(const request& req, const web_asset& a, bool is_page) {
    const std::string etag = "\"" + std::string(a.hash) + "\"";
    const std::string gzip_etag = "\"" + std::string(a.hash) + "-gz\"";
    const bool gzip = !a.gzip.empty() && accepts_gzip(req);

    response r;
    // No file names carry a hash (no build step), so every load revalidates: a 304 is cheap, and
    // a page never mixes files of two versions.
    r.set_header("Cache-Control", "no-cache");
    r.set_header("ETag", gzip ? gzip_etag : etag);
    if (!a.gzip.empty()) r.set_header("Vary", "Accept-Encoding");
    r.set_header("X-Content-Type-Options", "nosniff");
    if (is_page) {
        r.set_header("Content-Security-Policy", std::string(content_security_policy));
        r.set_header("Referrer-Policy", "no-referrer");  // invite codes stay out of Referer
        r.set_header("X-Frame-Options", "DENY");
    }
    if (not_modified(req, etag, gzip_etag)) {
        r.status = 304;
        return r;
    }
    r.status = 200;
    r.set_header("Content-Type", std::string(content_type(a.name)));
    if (gzip) {
        r.set_header("Content-Encoding", "gzip");
        r.body.assign(a.gzip);
    } else {
        r.body.assign(a.body);
    }
    return r;
}

}  // namespace

outcome web_page(services&, context& ctx) {
    const auto* page = find_web_asset("index.html");
    if (page == nullptr) return core::not_found();
    return serve(ctx.req, *page, true);
}

outcome web_static(services&, context& ctx) {
    const auto name = ctx.texts.empty() ? std::string_view{} : ctx.texts.front();
    const auto* file = find_web_asset(name);
    if (file == nullptr || name == "index.html") return core::not_found();
    return serve(ctx.req, *file, false);
}

outcome schema(services&, context&) {
    response r;
    r.status = 200;
    r.set_header("Content-Type", "application/json");
    r.body = openapi_json();
    return r;
}

}  // namespace parley::api::rest
