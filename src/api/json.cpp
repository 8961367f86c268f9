// JSON parsing, validation and serialization for the REST and WebSocket doors.
#include "api/json.hpp"

#include "core/text.hpp"

#include <boost/json.hpp>
#include <boost/url/parse_query.hpp>

#include <cmath>
#include <cstdio>

namespace parley::api {

namespace {

constexpr std::size_t max_json_depth = 64;  // API.md §0.3

// Media type of a Content-Type header without parameters, lowercased.
std::string media_type(std::string_view ct) {
    const auto semi = ct.find(';');
    return core::ascii_lower(core::trim(ct.substr(0, semi)));
}

}  // namespace

core::result<json::value> parse_json(std::string_view text) {
    json::parse_options opt;
    opt.max_depth = max_json_depth;
    boost::system::error_code ec;
    json::value v = json::parse(text, ec, {}, opt);
    if (ec) {
        std::string reason = ec.message();
        if (ec == json::error::too_deep) reason = "nesting deeper than 64 levels";
        return core::detail(core::errc::parse_error, "JSON parse error - " + reason);
    }
    return v;
}

core::result<json::object> parse_body(const request& req, core::shape errors, bool refuse_nul) {
    if (req.body.empty()) return json::object{};
    const auto ct = req.header("content-type");
    const std::string type = ct ? media_type(*ct) : std::string();
    if (type != "application/json") {
        return core::detail(
            core::errc::unsupported_media_type,
            "Unsupported media type \"" + std::string(ct ? *ct : "") + "\" in request.");
    }
    auto v = parse_json(req.body);
    if (!v) return v.error();
    if (!v->is_object()) return core::detail(core::errc::parse_error, "Expected a JSON object.");
    if (refuse_nul) {
        if (auto key = key_with_nul(v->as_object())) return nul_error(std::move(*key), errors);
    }
    return std::move(v->as_object());
}

namespace {

bool has_nul(const json::value& v) {
    switch (v.kind()) {
        case json::kind::string:
            return v.get_string().find('\0') != json::string::npos;
        case json::kind::array:
            for (const auto& e : v.get_array())
                if (has_nul(e)) return true;
            return false;
        case json::kind::object:
            for (const auto& kv : v.get_object())
                if (kv.key().find('\0') != std::string_view::npos || has_nul(kv.value()))
                    return true;
            return false;
        default:
            return false;
    }
}

}  // namespace

std::optional<std::string> key_with_nul(const json::object& o) {
    for (const auto& kv : o) {
        if (kv.key().find('\0') != std::string_view::npos || has_nul(kv.value()))
            return std::string(kv.key());
    }
    return std::nullopt;
}

core::error nul_error(std::string key, core::shape as) {
    static constexpr std::string_view text = "Null characters are not allowed.";
    if (as == core::shape::auth) return core::auth_shape(core::errc::invalid, std::string(text));
    if (as == core::shape::error)
        return core::error_shape(core::errc::invalid, std::string(text), std::move(key));
    return core::field_shape(std::move(key), std::string(text));
}

std::string invalid_pk_text(const json::value& v) {
    const bool digits_string =
        v.is_string() && !v.get_string().empty() &&
        v.get_string().find_first_not_of("0123456789") == std::string_view::npos;
    std::optional<std::string> text = big_integer_text(v);
    if (!text && (v.is_int64() || v.is_uint64() || digits_string))
        text = v.is_string() ? std::string(v.get_string()) : json::serialize(v);
    if (text) return "Invalid pk \"" + *text + "\" - object does not exist.";
    return "Incorrect type. Expected pk value, received " + std::string(py_type(v)) + ".";
}

std::optional<std::string> big_integer_text(const json::value& v) {
    if (!v.is_double()) return std::nullopt;
    const double d = v.get_double();
    // Beyond int64 and integral: only an integer literal of 20+ digits (or an exponent form
    // such as 1e21, which DRF would call a float: not told apart here) parses to this.
    constexpr double two_63 = 9223372036854775808.0;
    if (!std::isfinite(d) || std::trunc(d) != d || std::fabs(d) < two_63) return std::nullopt;
    char buf[400];
    const int n = std::snprintf(buf, sizeof buf, "%.0f", d);
    if (n <= 0 || static_cast<std::size_t>(n) >= sizeof buf) return std::nullopt;
    return std::string(buf, static_cast<std::size_t>(n));
}

std::optional<model::id> to_id(const json::value& v) noexcept {
    if (v.is_int64()) {
        const auto n = v.get_int64();
        if (n >= 1) return n;
        return std::nullopt;
    }
    if (v.is_uint64()) return std::nullopt;  // above int64 max
    if (v.is_string()) return core::parse_id(v.get_string());
    return std::nullopt;
}

bool is_missing(const json::object& o, std::string_view key) noexcept {
    const auto* v = o.if_contains(key);
    return v == nullptr || v->is_null() || (v->is_string() && v->get_string().empty());
}

std::string_view py_type(const json::value& v) noexcept {
    switch (v.kind()) {
        case json::kind::string:
            return "str";
        case json::kind::int64:
        case json::kind::uint64:
            return "int";
        case json::kind::double_:
            return "float";
        case json::kind::bool_:
            return "bool";
        case json::kind::array:
            return "list";
        case json::kind::object:
            return "dict";
        case json::kind::null:
            return "NoneType";
    }
    return "str";
}

std::optional<std::string> query_param(std::string_view query, std::string_view key) {
    auto params = boost::urls::parse_query(query);
    if (!params) return std::nullopt;
    for (const auto& p : *params) {
        if (p.key == key) return std::string(p.value);
    }
    return std::nullopt;
}

std::optional<std::string> field_reader::text(std::string_view key, const text_rule& rule) {
    const auto* v = o_.if_contains(key);
    if (v == nullptr) {
        if (rule.required) add(std::string(key), "This field is required.", core::errc::required);
        return std::nullopt;
    }
    if (v->is_null()) {
        if (!rule.allow_null)
            add(std::string(key), "This field may not be null.", core::errc::required);
        return std::nullopt;
    }
    if (!v->is_string()) {
        add(std::string(key), "Not a valid string.");
        return std::nullopt;
    }
    std::string_view s = v->get_string();
    if (rule.trim) s = core::trim(s);
    if (s.empty() && !rule.allow_blank) {
        add(std::string(key), "This field may not be blank.", core::errc::required);
        return std::nullopt;
    }
    if (rule.max_chars > 0 && core::code_points(s) > rule.max_chars) {
        add(std::string(key), "Ensure this field has no more than " +
                                  std::to_string(rule.max_chars) + " characters.");
        return std::nullopt;
    }
    return std::string(s);
}

std::optional<std::int64_t> field_reader::integer(std::string_view key, std::int64_t min,
                                                  std::int64_t max, bool required,
                                                  bool allow_null) {
    const auto* v = o_.if_contains(key);
    if (v == nullptr) {
        if (required) add(std::string(key), "This field is required.", core::errc::required);
        return std::nullopt;
    }
    if (v->is_null()) {
        if (!allow_null) add(std::string(key), "This field may not be null.", core::errc::required);
        return std::nullopt;
    }
    std::optional<std::int64_t> n;
    if (v->is_int64()) {
        n = v->get_int64();
    } else if (v->is_double()) {
        // DRF IntegerField accepts 3.0 but not 3.5; an integer beyond 64 bits is out of range.
        const double d = v->get_double();
        if (d == static_cast<double>(static_cast<std::int64_t>(d)) && d > -9e18 && d < 9e18) {
            n = static_cast<std::int64_t>(d);
        } else if (big_integer_text(*v)) {
            constexpr auto lowest = std::numeric_limits<std::int64_t>::min();
            constexpr auto highest = std::numeric_limits<std::int64_t>::max();
            if (d > 0)
                n = max < highest ? max + 1 : max;
            else
                n = min > lowest ? min - 1 : min;
        }
    } else if (v->is_string()) {
        const std::string_view s = core::trim(v->get_string());
        const bool neg = !s.empty() && s.front() == '-';
        if (const auto p = core::parse_id(neg ? s.substr(1) : s))
            n = neg ? -*p : *p;
        else if (s == "0" || s == "-0")
            n = 0;
    } else if (v->is_uint64()) {
        n = max;  // far beyond any limit: reported as too large below
        if (max < std::numeric_limits<std::int64_t>::max()) n = max + 1;
    }
    if (!n) {
        add(std::string(key), "A valid integer is required.");
        return std::nullopt;
    }
    if (*n < min) {
        add(std::string(key),
            "Ensure this value is greater than or equal to " + std::to_string(min) + ".");
        return std::nullopt;
    }
    if (*n > max) {
        add(std::string(key),
            "Ensure this value is less than or equal to " + std::to_string(max) + ".");
        return std::nullopt;
    }
    return n;
}

std::optional<model::id> field_reader::pk(std::string_view key, bool required) {
    const auto* v = o_.if_contains(key);
    if (v == nullptr) {
        if (required) add(std::string(key), "This field is required.", core::errc::required);
        return std::nullopt;
    }
    if (v->is_null()) {
        if (required) add(std::string(key), "This field may not be null.", core::errc::required);
        return std::nullopt;
    }
    if (const auto id = to_id(*v)) return id;
    add(std::string(key), invalid_pk_text(*v));
    return std::nullopt;
}

void field_reader::add(std::string field, std::string message, core::errc code) {
    for (auto& e : errors_) {
        if (e.field == field) {
            e.messages.push_back(std::move(message));
            return;
        }
    }
    errors_.push_back({std::move(field), {std::move(message)}, code});
}

json::object to_json(const model::user_ref& u) {
    return {{"id", u.id}, {"username", u.username}, {"email", u.email}};
}

json::array to_json(const std::vector<model::user_ref>& users) {
    json::array a;
    a.reserve(users.size());
    for (const auto& u : users) a.emplace_back(to_json(u));
    return a;
}

json::value nullable_time(const std::optional<core::timestamp>& t) {
    if (!t) return nullptr;
    return json::string(core::iso8601(*t));
}

json::object to_json(const model::team& t) {
    return {{"id", t.id},
            {"name", t.name},
            {"description", t.description},
            {"created_at", core::iso8601(t.created_at)},
            {"created_by", t.created_by},
            {"members", to_json(t.members)}};
}

json::object to_json(const model::channel& c) {
    json::object o{{"id", c.id},
                   {"name", c.name},
                   {"description", c.description},
                   {"team", c.team},
                   {"created_at", core::iso8601(c.created_at)},
                   {"channel_type", c.is_direct ? "direct" : "group"},
                   {"is_direct_message", c.is_direct}};
    if (c.created_by)
        o["created_by"] = *c.created_by;
    else
        o["created_by"] = nullptr;
    o["members"] = to_json(c.members);
    return o;
}

json::object to_json(const model::invitation& inv) {
    json::object o{{"id", inv.id},
                   {"team", inv.team},
                   {"invite_code", inv.invite_code},
                   {"created_at", core::iso8601(inv.created_at)},
                   {"expires_at", core::iso8601(inv.expires_at)},
                   {"is_active", inv.is_active},
                   {"created_by", inv.created_by}};
    if (inv.max_uses)
        o["max_uses"] = *inv.max_uses;
    else
        o["max_uses"] = nullptr;
    o["uses"] = inv.uses;
    return o;
}

response json_response(int status, const json::value& body) {
    response r;
    r.status = status;
    r.set_header("Content-Type", "application/json");
    r.body = json::serialize(body);
    return r;
}

response no_content() {
    response r;
    r.status = 204;
    return r;
}

}  // namespace parley::api
