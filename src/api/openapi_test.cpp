// Unit tests of the OpenAPI document (API.md §10.3) against the route table it is generated from.
//
// The rule: every route of route_table() has exactly one operation doc (api/openapi_operations.cpp,
// keyed by method and path), and the document's paths and methods are exactly the routes whose doc
// is `in_document`; only the built-in web client's routes (`/`, `/join-team/{code}`,
// `/static/{file}`, API.md §0.1) are not. A doc without a route fails unless it is `planned`
// (documented ahead of the change that adds its route).
#include "api/openapi.hpp"
#include "api/rest/endpoints.hpp"
#include "api/router.hpp"

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include <functional>
#include <set>
#include <string>

namespace parley::api {
namespace {

using route_id = std::pair<std::string, std::string>;  // method, OpenAPI path

std::string lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

std::set<route_id> document_operations(const json::object& doc) {
    std::set<route_id> out;
    for (const auto& [path, item] : doc.at("paths").as_object())
        for (const auto& [method, op] : item.as_object())
            out.insert({std::string(method), std::string(path)});
    return out;
}

TEST(OpenApi, EveryRouteHasExactlyOneDoc) {
    for (const auto& r : route_table()) {
        int n = 0;
        for (const auto& d : operation_docs())
            if (route_key(d.method, d.path) == route_key(r.method, r.path)) ++n;
        EXPECT_EQ(n, 1) << r.method << " " << r.path
                        << ": add exactly one operation doc in api/openapi_operations.cpp";
    }
}

TEST(OpenApi, EveryDocHasARouteUnlessPlanned) {
    std::set<std::string> routes;
    for (const auto& r : route_table()) routes.insert(route_key(r.method, r.path));
    std::set<std::string> seen;
    for (const auto& d : operation_docs()) {
        const auto key = route_key(d.method, d.path);
        EXPECT_TRUE(seen.insert(key).second) << "duplicate doc " << key;
        if (!d.planned) {
            EXPECT_TRUE(routes.contains(key)) << "doc without a route: " << key;
        }
    }
}

TEST(OpenApi, PathsAndMethodsEqualTheRouteTable) {
    const auto doc = openapi_document(route_table());
    std::set<route_id> expected;
    for (const auto& r : route_table()) {
        const auto* d = find_operation_doc(r.method, r.path);
        ASSERT_NE(d, nullptr) << r.path;
        if (!d->in_document) {
            // The rule: only the web client's pages and files stay out of the document.
            EXPECT_TRUE(r.path == "/" || r.path.starts_with("/join-team/") ||
                        r.path.starts_with("/static/"))
                << r.path << " is left out of the OpenAPI document";
            continue;
        }
        expected.insert({lower(r.method), openapi_path(r.path)});
    }
    EXPECT_EQ(document_operations(doc), expected);
    EXPECT_TRUE(expected.contains({"get", "/api/schema/"}));
    EXPECT_TRUE(expected.contains({"get", "/api/chat/teams/{id}/"}));
}

TEST(OpenApi, GeneratorPicksUpWhateverRowsExist) {
    // Routes of the uploads work are documented ahead: they appear as soon as their row does.
    static constexpr route rows[] = {
        {"GET", "/healthz/", rest::healthz, auth_mode::none, rate_class::none, "Liveness"},
        {"POST", "/api/chat/upload-file/", rest::healthz, auth_mode::user, rate_class::api,
         "Upload a file"},
        {"GET", "/api/chat/{file_id}/download/", rest::healthz, auth_mode::user, rate_class::api,
         "Download a file"},
    };
    const auto doc = openapi_document(rows);
    EXPECT_EQ(document_operations(doc),
              (std::set<route_id>{{"get", "/healthz/"},
                                  {"post", "/api/chat/upload-file/"},
                                  {"get", "/api/chat/{file_id}/download/"}}));
    const auto& upload = doc.at("paths").at("/api/chat/upload-file/").at("post").as_object();
    EXPECT_TRUE(upload.at("requestBody").at("content").as_object().contains("multipart/form-data"));
    const auto& download = doc.at("paths").at("/api/chat/{file_id}/download/").at("get");
    EXPECT_EQ(download.at("parameters").at(0).at("name"), "file_id");

    static constexpr route undocumented[] = {
        {"GET", "/api/chat/nope/", rest::healthz, auth_mode::none, rate_class::none, "Nope"}};
    EXPECT_THROW((void)openapi_document(undocumented), std::logic_error);
}

TEST(OpenApi, EveryRefResolves) {
    const json::value doc = openapi_document(route_table());
    int refs = 0;
    std::function<void(const json::value&)> walk = [&](const json::value& v) {
        if (v.is_array()) {
            for (const auto& e : v.as_array()) walk(e);
        } else if (v.is_object()) {
            for (const auto& [k, e] : v.as_object()) {
                if (k == "$ref") {
                    ++refs;
                    const std::string ref(e.as_string());
                    ASSERT_TRUE(ref.starts_with("#/")) << ref;
                    const json::value* at = &doc;
                    std::string rest = ref.substr(2);
                    while (!rest.empty()) {
                        const auto slash = rest.find('/');
                        const auto part = rest.substr(0, slash);
                        ASSERT_TRUE(at->is_object() && at->as_object().contains(part)) << ref;
                        at = &at->as_object().at(part);
                        rest = slash == std::string::npos ? "" : rest.substr(slash + 1);
                    }
                } else {
                    walk(e);
                }
            }
        }
    };
    walk(doc);
    EXPECT_GT(refs, 100);
}

TEST(OpenApi, SecurityFollowsTheAuthMode) {
    const auto doc = openapi_document(route_table());
    for (const auto& r : route_table()) {
        const auto* d = find_operation_doc(r.method, r.path);
        if (!d->in_document) continue;
        const auto& op = doc.at("paths").at(openapi_path(r.path)).at(lower(r.method)).as_object();
        const auto& security = op.at("security").as_array();
        if (r.auth == auth_mode::user) {
            ASSERT_EQ(security.size(), 1u) << r.path;
            EXPECT_TRUE(security[0].as_object().contains("bearerAuth")) << r.path;
            EXPECT_TRUE(op.at("responses").as_object().contains("401")) << r.path;
        } else {
            EXPECT_TRUE(security.empty()) << r.path;
        }
        if (r.rate != rate_class::none) {
            EXPECT_TRUE(op.at("responses").as_object().contains("429")) << r.path;
        }
    }
    const auto& scheme = doc.at("components").at("securitySchemes").at("bearerAuth");
    EXPECT_EQ(scheme.at("type"), "http");
    EXPECT_EQ(scheme.at("scheme"), "bearer");
    EXPECT_EQ(scheme.at("bearerFormat"), "JWT");
}

TEST(OpenApi, PathParametersAreDeclaredAndIdsAreIntegers) {
    const auto doc = openapi_document(route_table());
    for (const auto& [path, item] : doc.at("paths").as_object()) {
        EXPECT_TRUE(path.ends_with("/")) << path;
        for (const auto& [method, op] : item.as_object()) {
            std::set<std::string> declared;
            if (op.as_object().contains("parameters"))
                for (const auto& p : op.at("parameters").as_array())
                    if (p.at("in") == "path")
                        declared.insert(std::string(p.at("name").as_string()));
            std::set<std::string> in_path;
            std::string_view rest = path;
            for (std::size_t open; (open = rest.find('{')) != std::string_view::npos;) {
                const auto close = rest.find('}', open);
                in_path.insert(std::string(rest.substr(open + 1, close - open - 1)));
                rest.remove_prefix(close + 1);
            }
            EXPECT_EQ(declared, in_path) << method << " " << path;
        }
    }
    const auto& p = doc.at("paths").at("/api/chat/teams/{id}/").at("get").at("parameters").at(0);
    EXPECT_EQ(p.at("schema").at("$ref"), "#/components/schemas/Id");
    EXPECT_EQ(doc.at("components").at("schemas").at("Id").at("type"), "integer");
}

TEST(OpenApi, ComponentsAndDocumentBasics) {
    const auto doc = openapi_document(route_table());
    EXPECT_EQ(doc.at("openapi"), "3.1.0");
    const auto& schemas = doc.at("components").at("schemas").as_object();
    for (const auto* name :
         {"User", "Team", "Channel", "Invitation", "CreatedInvitation", "Message", "Attachment",
          "LinkPreview", "DetailError", "FieldErrors", "ErrorShape", "AuthError"})
        EXPECT_TRUE(schemas.contains(name)) << name;
    const std::string description(doc.at("info").at("description").as_string());
    for (const auto* needle : {"/ws/chat/", "bearer, <token>", "?token=", "request_id", "resume",
                               "channel_message", "4001", "4008", "hello"})
        EXPECT_NE(description.find(needle), std::string::npos) << needle;
    std::set<std::string> ids;
    for (const auto& [path, item] : doc.at("paths").as_object())
        for (const auto& [method, op] : item.as_object())
            EXPECT_TRUE(ids.insert(std::string(op.at("operationId").as_string())).second)
                << "duplicate operationId on " << method << " " << path;
    // The cached text is the same document.
    EXPECT_EQ(json::parse(openapi_json()), json::value(doc));
}

TEST(OpenApi, RouteKeysIgnoreParameterNames) {
    EXPECT_EQ(route_key("GET", "/api/chat/{file_id}/download/"),
              route_key("GET", "/api/chat/{id}/download"));
    EXPECT_EQ(route_key("GET", "/join-team/{code:str}/"), "GET /join-team/{}/");
    EXPECT_EQ(openapi_path("/join-team/{code:str}/"), "/join-team/{code}/");
    EXPECT_EQ(openapi_path("/static/{file:path}/"), "/static/{file}/");
    EXPECT_EQ(openapi_path("/api/chat/teams/{id}/"), "/api/chat/teams/{id}/");
}

}  // namespace
}  // namespace parley::api
