// Unit tests of the §7 seams in api/: the body plan of the streamed upload route, and the link
// previewer's redirect loop, address vetting, failure shape and cache over a fake fetcher.
#include "api/application.hpp"
#include "api/link_preview.hpp"
#include "api/pipeline_test.hpp"
#include "media/upload.hpp"

#include <gtest/gtest.h>

#include <deque>
#include <stdexcept>
#include <string>
#include <vector>

namespace parley::api {
namespace {

// ---- the body plan (§0.8, §7.1) ----------------------------------------------------------

using testing::pipeline;

TEST(BodyPlan, UploadsAreStreamedWithTheirOwnLimit) {
    pipeline p;
    p.settings.http.max_upload_bytes = 1000;
    for (const auto* path : {"/api/chat/upload-file/", "/api/chat/upload-file"}) {
        const auto plan = p.plan("POST", path);
        EXPECT_TRUE(plan.streamed);
        ASSERT_TRUE(plan.limit);
        EXPECT_GT(*plan.limit, 1000u);  // the file's limit plus multipart framing
        ASSERT_TRUE(plan.too_large);
        EXPECT_EQ(plan.too_large->code, core::errc::payload_too_large);
        EXPECT_EQ(plan.too_large->message, "File too large. The limit is 1000 bytes.");
    }
    for (const auto& [method, path] :
         {std::pair{"GET", "/api/chat/upload-file/"},
          std::pair{"OPTIONS", "/api/chat/upload-file/"}, std::pair{"POST", "/api/chat/messages/"},
          std::pair{"POST", "/nowhere/"}}) {
        const auto plan = p.plan(method, path);
        EXPECT_FALSE(plan.streamed) << method << " " << path;
        EXPECT_FALSE(plan.limit) << method << " " << path;
        EXPECT_FALSE(plan.too_large) << method << " " << path;
    }
}

// ---- link previews over a fake fetcher (§7.4) ---------------------------------------------

struct scripted_fetcher final : page_fetcher {
    struct step {
        fetch_response response;
        std::vector<std::string> addresses{"93.184.216.34"};  // what the host "resolves" to
    };
    std::deque<step> steps;
    std::vector<fetch_request> seen;

    fetch_response fetch(const fetch_request& r) override {
        seen.push_back(r);
        if (steps.empty()) return {};
        auto s = std::move(steps.front());
        steps.pop_front();
        for (const auto& a : s.addresses) {
            if (!r.allow_address(a)) {
                fetch_response blocked;
                blocked.result = fetch_response::outcome::blocked;
                return blocked;
            }
        }
        return s.response;
    }
};

fetch_response page(std::string body, std::string type = "text/html; charset=utf-8") {
    fetch_response r;
    r.result = fetch_response::outcome::ok;
    r.status = 200;
    r.content_type = std::move(type);
    r.body = std::move(body);
    return r;
}

fetch_response redirect(std::string location, int status = 302) {
    fetch_response r;
    r.result = fetch_response::outcome::ok;
    r.status = status;
    r.location = std::move(location);
    return r;
}

media::preview_url url_of(std::string_view text) {
    auto u = media::parse_preview_url(text);
    if (!u) throw std::invalid_argument("bad test URL");
    return *u;
}

TEST(LinkPreviewer, FetchesParsesAndCaches) {
    scripted_fetcher f;
    f.steps.push_back({page("<title>Hello</title><meta property=og:image content=/i.png>")});
    link_previewer p(f, media::address_policy{});
    const auto got = p.preview(url_of("https://example.com:8443/post?x=1"));
    EXPECT_EQ(got.url, "https://example.com:8443/post?x=1");
    EXPECT_EQ(got.title, "Hello");
    EXPECT_EQ(got.image, "https://example.com:8443/i.png");
    EXPECT_EQ(got.site_name, "example.com:8443");
    ASSERT_EQ(f.seen.size(), 1u);
    const auto& r = f.seen[0];
    EXPECT_EQ(r.scheme, "https");
    EXPECT_EQ(r.host, "example.com");
    EXPECT_EQ(r.port, 8443);
    EXPECT_EQ(r.target, "/post?x=1");
    EXPECT_EQ(r.host_header, "example.com:8443");
    EXPECT_EQ(r.max_body_bytes, 1024u * 1024u);
    EXPECT_LE(r.deadline, std::chrono::steady_clock::now() + std::chrono::seconds(5));
    EXPECT_FALSE(r.allow_address("127.0.0.1"));
    EXPECT_FALSE(r.allow_address("::ffff:10.0.0.1"));
    EXPECT_TRUE(r.allow_address("93.184.216.34"));
    // Cached: no second fetch.
    EXPECT_EQ(p.preview(url_of("https://example.com:8443/post?x=1")).title, "Hello");
    EXPECT_EQ(f.seen.size(), 1u);
}

TEST(LinkPreviewer, FollowsAtMostThreeRedirectsEachVetted) {
    scripted_fetcher f;
    f.steps.push_back({redirect("/a")});
    f.steps.push_back({redirect("https://other.example/b", 301)});
    f.steps.push_back({redirect("c", 307)});
    f.steps.push_back({page("<title>Done</title>")});
    link_previewer p(f, media::address_policy{});
    EXPECT_EQ(p.preview(url_of("http://example.com/start")).title, "Done");
    ASSERT_EQ(f.seen.size(), 4u);
    EXPECT_EQ(f.seen[1].target, "/a");
    EXPECT_EQ(f.seen[2].host, "other.example");
    EXPECT_EQ(f.seen[2].scheme, "https");
    EXPECT_EQ(f.seen[3].target, "/c");

    scripted_fetcher g;
    for (int i = 0; i < 4; ++i) g.steps.push_back({redirect("/again")});
    g.steps.push_back({page("<title>Too far</title>")});
    link_previewer q(g, media::address_policy{});
    const auto failed = q.preview(url_of("http://example.com/loop"));
    EXPECT_FALSE(failed.title);
    EXPECT_EQ(failed.site_name, "example.com");
    EXPECT_EQ(g.seen.size(), 4u);  // the 4th redirect is not followed
}

TEST(LinkPreviewer, ARedirectToABlockedAddressFails) {
    scripted_fetcher f;
    f.steps.push_back({redirect("http://metadata.internal/")});
    f.steps.push_back({page("<title>secret</title>"), {"169.254.169.254"}});
    link_previewer p(f, media::address_policy{});
    const auto got = p.preview(url_of("http://example.com/"));
    EXPECT_FALSE(got.title);
    EXPECT_FALSE(got.description);
    EXPECT_FALSE(got.image);
    EXPECT_EQ(got.site_name, "example.com");
}

TEST(LinkPreviewer, OnlyHtmlSuccessesAreParsed) {
    for (auto response :
         {page("<title>x</title>", "text/plain"), page("<title>x</title>", "application/xhtml+xml"),
          redirect(""), redirect("javascript:alert(1)"), fetch_response{}}) {
        scripted_fetcher f;
        if (response.status == 0 && response.result == fetch_response::outcome::ok)
            response.status = 500;
        f.steps.push_back({response});
        link_previewer p(f, media::address_policy{});
        const auto got = p.preview(url_of("http://example.com/x"));
        EXPECT_FALSE(got.title);
        EXPECT_EQ(got.site_name, "example.com");
    }
    scripted_fetcher f;
    auto error_page = page("<title>Not found</title>");
    error_page.status = 404;
    f.steps.push_back({error_page});
    link_previewer p(f, media::address_policy{});
    EXPECT_FALSE(p.preview(url_of("http://example.com/404")).title);
}

TEST(LinkPreviewer, TheAllowListExemptsAddressesAndHosts) {
    scripted_fetcher f;
    f.steps.push_back({page("<title>Local</title>"), {"127.0.0.1"}});
    f.steps.push_back({page("<title>Intranet</title>"), {"10.1.2.3", "fd00::1"}});
    f.steps.push_back({page("<title>Refused</title>"), {"127.0.0.1", "::1"}});
    link_previewer p(f, media::address_policy({"127.0.0.1", "wiki.corp"}));
    EXPECT_EQ(p.preview(url_of("http://localhost:8080/")).title, "Local");
    EXPECT_EQ(p.preview(url_of("http://wiki.corp/")).title, "Intranet");
    EXPECT_FALSE(p.preview(url_of("http://localhost:9090/")).title);  // ::1 is not listed
}

}  // namespace
}  // namespace parley::api
