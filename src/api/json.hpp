// JSON on the wire: body parsing (§0.3), id reading (§0.4), field-shape validation (§0.6) and
// the serialized shapes of §1.5. Boost.JSON stays in api/.
#pragma once

#include "api/http.hpp"
#include "core/error.hpp"
#include "model/records.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace parley::api {

namespace json = boost::json;

// Reads a request body as a JSON object (API.md §0.3): empty body → {}; other content types
// 415; malformed, invalid UTF-8 (lone surrogate escapes included) or deeper than 64 → 400
// parse_error; not an object → 400; a string holding U+0000 → 400 nul_error(key, errors),
// unless `refuse_nul` is false: for endpoints whose own rules refuse control characters in every
// string they read, with the message the contract gives (register §2.5, reactions §6.8).
[[nodiscard]] core::result<json::object> parse_body(const request& req,
                                                    core::shape errors = core::shape::field,
                                                    bool refuse_nul = true);

// Parses text as JSON with the §0.3 limits (used by the WebSocket too).
[[nodiscard]] core::result<json::value> parse_json(std::string_view text);

// An id per §0.4: positive JSON integer or string of ASCII digits; nullopt otherwise.
[[nodiscard]] std::optional<model::id> to_id(const json::value& v) noexcept;

// An integer literal beyond 64 bits, which Boost.JSON reads as a double (1180591620717411303424):
// its decimal digits, for DRF's `Invalid pk "<digits>"` (§0.4); nullopt for any other value.
// The digits are the double's exact value, so they match the input whenever it is exactly
// representable (2^70 is; a 25-digit literal may come back rounded).
[[nodiscard]] std::optional<std::string> big_integer_text(const json::value& v);

// DRF's field message for a value that is not a valid id (§0.4): `Invalid pk "{v}" - object
// does not exist.` for integers, digit strings and integers beyond 64 bits, else `Incorrect
// type. Expected pk value, received {type}.`
[[nodiscard]] std::string invalid_pk_text(const json::value& v);

// The top-level key of an object whose key or value holds a string with U+0000 anywhere in it
// (nested values included); nullopt when there is none. Such strings are refused (§0.3): no
// database text type stores them.
[[nodiscard]] std::optional<std::string> key_with_nul(const json::object& o);

// "Null characters are not allowed." under `key`: the field-shape error of §0.3 (DRF's text);
// `as` renders it in another shape (error: {"error": ..., "code": "invalid"}; auth: also
// "message") for endpoints whose errors use that shape.
[[nodiscard]] core::error nul_error(std::string key, core::shape as = core::shape::field);

// "Missing" per §0.4: absent, null or "".
[[nodiscard]] bool is_missing(const json::object& o, std::string_view key) noexcept;

// DRF's Python type name of a JSON value: str, int, float, bool, list, dict, NoneType.
[[nodiscard]] std::string_view py_type(const json::value& v) noexcept;

// A query-string parameter, percent-decoded (first occurrence).
[[nodiscard]] std::optional<std::string> query_param(std::string_view query, std::string_view key);

// How a string field is checked (DRF CharField semantics).
struct text_rule {
    bool required = true;       // absent → "This field is required."
    bool allow_blank = false;   // "" after trimming → "This field may not be blank."
    bool allow_null = false;    // null → "This field may not be null."
    bool trim = true;           // DRF trim_whitespace
    std::size_t max_chars = 0;  // 0: no limit; code points
};

// Collects field-shape errors in the order fields are read (API.md §0.6 "field" shape).
class field_reader {
public:
    explicit field_reader(const json::object& o) : o_(o) {}

    [[nodiscard]] bool has(std::string_view key) const noexcept { return o_.contains(key); }

    // The string value (trimmed when the rule says so), or nullopt when absent, null (and
    // allowed), or invalid (an error is recorded).
    std::optional<std::string> text(std::string_view key, const text_rule& rule);

    // An integer in [min, max]; null allowed when allow_null (returns nullopt without error).
    std::optional<std::int64_t> integer(std::string_view key, std::int64_t min, std::int64_t max,
                                        bool required, bool allow_null);

    // A primary key (§0.4): `Incorrect type...` for wrong types, `Invalid pk` for bad values.
    std::optional<model::id> pk(std::string_view key, bool required);

    // `code`: required when the value is missing, null or blank (the WebSocket's `code`, §13.6).
    void add(std::string field, std::string message, core::errc code = core::errc::invalid);
    [[nodiscard]] bool ok() const noexcept { return errors_.empty(); }
    [[nodiscard]] core::error error() const { return core::field_shape(errors_); }

private:
    const json::object& o_;
    std::vector<core::field_error> errors_;
};

// Shapes of §1.5.
[[nodiscard]] json::object to_json(const model::user_ref& u);
[[nodiscard]] json::array to_json(const std::vector<model::user_ref>& users);
[[nodiscard]] json::object to_json(const model::team& t);
[[nodiscard]] json::object to_json(const model::channel& c);
[[nodiscard]] json::object to_json(const model::invitation& inv);
[[nodiscard]] json::value nullable_time(const std::optional<core::timestamp>& t);

// A JSON response with the given status.
[[nodiscard]] response json_response(int status, const json::value& body);
// 204 with no body.
[[nodiscard]] response no_content();

}  // namespace parley::api
