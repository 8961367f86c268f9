// Generates the OpenAPI 3.1 document (API.md §10.3) from the route table and the operation docs.
#include "api/openapi.hpp"

#include "api/openapi_components.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <map>
#include <stdexcept>

namespace parley::api {

namespace {

// A schema spec of operation_doc: "Team", "Team[]", "{...}".
json::value schema_of(std::string_view spec) {
    if (spec.empty()) throw std::logic_error("empty schema spec");
    if (spec.front() == '{') {
        boost::system::error_code ec;
        auto v = json::parse(spec, ec);
        if (ec) throw std::logic_error("schema spec does not parse: " + std::string(spec));
        return v;
    }
    if (spec.ends_with("[]")) {
        return json::object{{"type", "array"},
                            {"items", schema_ref(spec.substr(0, spec.size() - 2))}};
    }
    return schema_ref(spec);
}

std::string_view shape_schema(std::string_view shape) {
    if (shape == "detail") return "DetailError";
    if (shape == "field") return "FieldErrors";
    if (shape == "error") return "ErrorShape";
    if (shape == "auth") return "AuthError";
    if (shape == "legacy") return "LegacyDeleteError";
    throw std::logic_error("unknown error shape " + std::string(shape));
}

std::string_view status_text(int status) {
    switch (status) {
        case 400:
            return "Invalid request";
        case 401:
            return "Not authenticated";
        case 403:
            return "Not allowed";
        case 404:
            return "Not found or not visible to the caller";
        case 413:
            return "Body over its limit";
        case 426:
            return "Upgrade required";
        case 429:
            return "Throttled (see Retry-After)";
        case 507:
            return "Not enough storage space left on the server";
        default:
            return "Error";
    }
}

json::object json_content(json::value schema, std::string_view media_type = "application/json") {
    return json::object{{std::string(media_type), json::object{{"schema", std::move(schema)}}}};
}

// "400:field 404:detail,error" → {status: [schema names]}.
std::map<int, std::vector<std::string_view>> parse_errors(std::string_view spec) {
    std::map<int, std::vector<std::string_view>> out;
    while (!spec.empty()) {
        const auto space = spec.find(' ');
        auto item = spec.substr(0, space);
        spec = space == std::string_view::npos ? std::string_view{} : spec.substr(space + 1);
        if (item.empty()) continue;
        const auto colon = item.find(':');
        if (colon != 3) throw std::logic_error("bad error spec " + std::string(item));
        const int status = std::stoi(std::string(item.substr(0, 3)));
        auto shapes = item.substr(4);
        while (!shapes.empty()) {
            const auto comma = shapes.find(',');
            out[status].push_back(shape_schema(shapes.substr(0, comma)));
            shapes =
                comma == std::string_view::npos ? std::string_view{} : shapes.substr(comma + 1);
        }
    }
    return out;
}

json::object error_response(int status, const std::vector<std::string_view>& shapes) {
    json::value schema;
    if (shapes.size() == 1) {
        schema = schema_ref(shapes.front());
    } else {
        json::array any;
        for (auto s : shapes) any.push_back(schema_ref(s));
        schema = json::object{{"anyOf", std::move(any)}};
    }
    json::object r{{"description", status_text(status)}, {"content", json_content(schema)}};
    if (status == 429)
        r["headers"] = json::object{{"Retry-After", {{"$ref", "#/components/headers/RetryAfter"}}}};
    if (status == 401)
        r["headers"] =
            json::object{{"WWW-Authenticate", {{"$ref", "#/components/headers/WWWAuthenticate"}}}};
    return r;
}

// Names of the `{...}` segments of a template, with their kind.
struct path_param {
    std::string name;
    bool is_id;
};

std::vector<path_param> path_params(std::string_view path) {
    std::vector<path_param> out;
    for (std::size_t open; (open = path.find('{')) != std::string_view::npos;) {
        const auto close = path.find('}', open);
        auto inner = path.substr(open + 1, close - open - 1);
        const auto colon = inner.find(':');
        out.push_back({std::string(inner.substr(0, colon)), colon == std::string_view::npos});
        path.remove_prefix(close + 1);
    }
    return out;
}

// The path parameters of the route's template, then the doc's query and header parameters.
json::array parameters(const route& r, const operation_doc& d) {
    json::array params;
    for (const auto& p : path_params(r.path)) {
        json::object param{{"name", p.name}, {"in", "path"}, {"required", true}};
        param["schema"] =
            p.is_id ? schema_ref("Id") : json::value(json::object{{"type", "string"}});
        params.push_back(std::move(param));
    }
    for (const auto& p : d.params) {
        json::object param{{"name", p.name},
                           {"in", p.in},
                           {"required", p.required},
                           {"schema", schema_of(p.schema)}};
        if (!p.description.empty()) param["description"] = p.description;
        params.push_back(std::move(param));
    }
    return params;
}

// One success response of the doc, with its headers (by reference to components/headers).
json::object success_response(const response_doc& resp) {
    json::object out{{"description", resp.description}};
    if (!resp.schema.empty())
        out["content"] = json_content(schema_of(resp.schema), resp.media_type);
    json::object headers;
    if (resp.paginated) headers["Link"] = json::object{{"$ref", "#/components/headers/Link"}};
    for (std::string_view rest = resp.headers; !rest.empty();) {
        const auto space = rest.find(' ');
        const auto name = rest.substr(0, space);
        rest = space == std::string_view::npos ? std::string_view{} : rest.substr(space + 1);
        if (name.empty()) continue;
        std::string key(name);
        std::erase(key, '-');
        headers[name] = json::object{{"$ref", "#/components/headers/" + key}};
    }
    if (!headers.empty()) out["headers"] = std::move(headers);
    return out;
}

// The success responses, the doc's errors, 401 and 429 from the route, and `default`.
json::object responses(const route& r, const operation_doc& d) {
    json::object out;
    for (const auto& resp : d.responses) out[std::to_string(resp.status)] = success_response(resp);
    auto errors = parse_errors(d.errors);
    if (r.auth == auth_mode::user && !errors.contains(401)) errors[401] = {"DetailError"};
    if (r.rate != rate_class::none && !errors.contains(429)) errors[429] = {"DetailError"};
    for (const auto& [status, shapes] : errors)
        out[std::to_string(status)] = error_response(status, shapes);
    out["default"] = json::object{
        {"description", "Any other error (405, 413, 415, 500, 503, ...) in the detail shape"},
        {"content", json_content(schema_ref("DetailError"))}};
    return out;
}

json::object operation(const route& r, const operation_doc& d) {
    json::object op{
        {"operationId", d.operation_id}, {"summary", r.summary}, {"tags", json::array{d.tag}}};
    if (!d.description.empty()) op["description"] = d.description;
    if (auto params = parameters(r, d); !params.empty()) op["parameters"] = std::move(params);
    if (!d.request.empty()) {
        op["requestBody"] =
            json::object{{"required", d.request_required},
                         {"content", json_content(schema_of(d.request), d.request_media_type)}};
    }
    op["responses"] = responses(r, d);
    if (r.auth == auth_mode::user)
        op["security"] = json::array{json::object{{"bearerAuth", json::array{}}}};
    else
        op["security"] = json::array{};  // public: no credentials
    return op;
}

std::string method_key(std::string_view method) {
    std::string m(method);
    for (auto& c : m) c = static_cast<char>(c - 'A' + 'a');
    return m;
}

}  // namespace

std::string route_key(std::string_view method, std::string_view path) {
    std::string key(method);
    key += ' ';
    for (std::size_t i = 0; i < path.size(); ++i) {
        if (path[i] == '{') {
            key += "{}";
            i = path.find('}', i);
            if (i == std::string_view::npos) break;
        } else {
            key += path[i];
        }
    }
    if (key.back() != '/') key += '/';
    return key;
}

const operation_doc* find_operation_doc(std::string_view method, std::string_view path) {
    const auto key = route_key(method, path);
    for (const auto& d : operation_docs())
        if (route_key(d.method, d.path) == key) return &d;
    return nullptr;
}

std::string openapi_path(std::string_view route_path) {
    std::string out;
    for (std::size_t i = 0; i < route_path.size(); ++i) {
        out += route_path[i];
        if (route_path[i] != '{') continue;
        const auto close = route_path.find('}', i);
        const auto name = route_path.substr(i + 1, close - i - 1);
        out += name.substr(0, name.find(':'));  // drop ":str" / ":path"
        i = close - 1;
    }
    return out;
}

json::object openapi_document(std::span<const route> table) {
    json::object paths;
    for (const auto& r : table) {
        const auto* d = find_operation_doc(r.method, r.path);
        if (d == nullptr)
            throw std::logic_error("no operation doc for " + std::string(r.method) + " " +
                                   std::string(r.path));
        if (!d->in_document) continue;
        auto& item = paths[openapi_path(r.path)];
        if (!item.is_object()) item = json::object{};
        item.as_object()[method_key(r.method)] = operation(r, *d);
    }

    return json::object{
        {"openapi", "3.1.0"},
        {"info",
         {{"title", "Parley API"},
          {"version", PARLEY_VERSION},
          {"description", openapi_description()}}},
        {"servers", json::array{json::object{{"url", "/"}, {"description", "This server"}}}},
        {"tags", openapi_tags()},
        {"paths", std::move(paths)},
        {"components",
         {{"schemas", openapi_schemas()},
          {"headers", openapi_headers()},
          {"securitySchemes",
           {{"bearerAuth",
             {{"type", "http"},
              {"scheme", "bearer"},
              {"bearerFormat", "JWT"},
              {"description", "An access token from register, login or token refresh (§2)"}}}}}}}};
}

const std::string& openapi_json() {
    static const std::string text = json::serialize(openapi_document(route_table()));
    return text;
}

}  // namespace parley::api
