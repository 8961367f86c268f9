// REST door of §7: uploads streamed to disk (§7.1), downloads (§7.2), signed media URLs (§7.3)
// and link previews (§7.4, §6.12).
#include "api/failures.hpp"
#include "api/link_preview.hpp"
#include "api/message_json.hpp"
#include "api/rest/endpoints.hpp"
#include "core/server_metrics.hpp"
#include "media/filenames.hpp"
#include "media/paths.hpp"
#include "media/preview.hpp"
#include "media/upload.hpp"

#include <charconv>
#include <memory>
#include <optional>

namespace parley::api::rest {

namespace {

using core::errc;

core::error not_configured() {
    return server_error();
}

// §10.2: absolute URLs start at PARLEY_PUBLIC_URL, else at <scheme>://<Host header>.
std::string public_base(const services& svc, const request& req) {
    std::string base = svc.settings.http.public_url;
    if (base.empty())
        base = req.scheme + "://" + std::string(req.header("host").value_or("localhost"));
    while (!base.empty() && base.back() == '/') base.pop_back();
    return base;
}

// The upload's body_sink: multipart parsed as it arrives, the file part written to a temporary
// file, recorded on finish (§7.1). Storage failures throw; application's guard makes them 503.
class upload_sink final : public body_sink {
public:
    upload_sink(services& s, model::user uploader, std::string base, std::string boundary,
                std::unique_ptr<chat::upload_budget> budget)
        : s_(s),
          uploader_(std::move(uploader)),
          base_(std::move(base)),
          receiver_(s.files->storage(), std::move(boundary), s.settings.http.max_upload_bytes),
          budget_(std::move(budget)) {}

    // Each chunk is counted against the uploader's quota and the disk reserve as it arrives.
    core::result<void> write(std::string_view chunk) override {
        if (auto w = receiver_.write(chunk); !w) return w;
        if (auto room = budget_->check(receiver_.received_bytes()); !room) {
            receiver_.abort();
            return room;
        }
        return {};
    }

    core::result<response> finish() override {
        auto got = receiver_.finish();
        if (!got) return got.error();
        const auto a = s_.files->save(uploader_, receiver_, *got);
        core::metrics::server_metrics::global().uploads_bytes.inc(a.size);
        json::object o;
        o["id"] = a.id;
        o["filename"] = a.original_filename;
        o["url"] = base_ + s_.media_urls->signed_url(a.stored_name);  // absolute (§7.1)
        o["content_type"] = a.content_type;
        o["size"] = a.size;
        return json_response(201, o);
    }

    void abort() noexcept override { receiver_.abort(); }

private:
    services& s_;
    model::user uploader_;
    std::string base_;
    media::upload_receiver receiver_;
    std::unique_ptr<chat::upload_budget> budget_;  // released when the upload ends
};

// The declared body size, when the request has a valid Content-Length.
std::optional<std::uint64_t> declared_length(const request& req) {
    const auto v = req.header("content-length");
    if (!v) return std::nullopt;
    std::uint64_t n = 0;
    const auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
    if (ec != std::errc() || end != v->data() + v->size()) return std::nullopt;
    return n;
}

// 200 with the file as the body and the §7.2 headers; `allow_inline` for media URLs (§7.3).
response file_response(chat::file_download& d, bool allow_inline) {
    response r;
    r.status = 200;
    r.set_header("Content-Type", d.file.content_type);
    const bool as_inline = allow_inline && media::served_inline(d.file.content_type);
    r.set_header("Content-Disposition",
                 media::content_disposition(d.file.original_filename, as_inline));
    r.set_header("X-Content-Type-Options", "nosniff");
    r.set_header("Cache-Control", "private, no-store");
    const auto size = d.body.size();
    r.file = std::make_shared<file_body>(d.body.release(), size);
    return r;
}

}  // namespace

core::result<std::unique_ptr<body_sink>> upload_file(services& svc, context& ctx) {
    if (svc.files == nullptr || svc.media_urls == nullptr) return not_configured();
    // Not multipart, or no boundary: nothing can be a file (§7.1). Refused before the body.
    const auto type = ctx.req.header("content-type");
    auto boundary = type ? media::form_data_boundary(*type) : std::nullopt;
    if (!boundary) return media::no_file_provided();
    // Quota and disk reserve against the declared size (§7.1), before any body byte is read.
    auto budget = svc.files->begin_upload(ctx.user(), declared_length(ctx.req));
    if (!budget) return budget.error();
    return std::make_unique<upload_sink>(svc, ctx.user(), public_base(svc, ctx.req),
                                         std::move(*boundary), std::move(*budget));
}

outcome files_download(services& svc, context& ctx) {
    if (svc.files == nullptr) return not_configured();
    auto d = svc.files->open_download(ctx.user(), ctx.ids[0]);
    if (!d) return d.error();
    return file_response(*d, false);
}

outcome media_file(services& svc, context& ctx) {
    if (svc.files == nullptr || svc.media_urls == nullptr) return not_configured();
    // The name is checked before anything else: a path that is not one Parley issued never
    // reaches the signature check or the file system.
    const auto stored = media::stored_name_of_media_path(ctx.req.path);
    if (!stored) return core::not_found();
    const auto expires = query_param(ctx.req.query, "expires");
    const auto signature = query_param(ctx.req.query, "signature");
    if (!expires || !signature ||
        !svc.media_urls->verify(media::media_url_path(*stored), *expires, *signature))
        return core::detail(errc::permission_denied, "Invalid or expired signature.");
    auto d = svc.files->open_media(*stored);
    if (!d) return d.error();
    return file_response(*d, true);
}

outcome fetch_link_preview(services& svc, context& ctx) {
    auto body = ctx.body(core::shape::error);
    if (!body) return body.error();
    const auto* url = body->if_contains("url");
    if (url == nullptr || url->is_null() || (url->is_string() && url->get_string().empty()))
        return core::error_shape(errc::required, "URL is required", "url");
    const auto invalid =
        core::error_shape(errc::invalid, "Enter a valid http or https URL.", "url");
    if (!url->is_string()) return invalid;
    const auto parsed = media::parse_preview_url(url->get_string());
    if (!parsed) return invalid;
    if (svc.previews == nullptr) return not_configured();
    return json_response(200, link_preview_json(svc.previews->preview(*parsed)));
}

}  // namespace parley::api::rest
