// The one place where a service's problems (core::problem, #15) become wire errors: the DRF
// texts and body shapes of REST, the `code` / `error` / `field` of a WebSocket error frame
// (API.md §0.6, §8.3). Services never word or shape an error; routes that answer with a quirk
// of the contract (a custom action's `error` shape, delete_message's legacy `{"Error": ...}`)
// name it here through rest_form.
#pragma once

#include "core/error.hpp"

#include <string>
#include <vector>

namespace parley::api {

// How a REST route answers problems.
enum class rest_form {
    // DRF serializer endpoints (create, update, list): every key problem in the field shape
    // `{"<key>": ["..."]}`; a refusal (404, 403, ...) in its own shape.
    serializer,
    // Custom actions (§6.7 delete_message, §6.9 edit_message): the first problem alone, in the
    // `error` shape (`{"error": ..., "code": ...}`); delete_message's 403 in the legacy shape.
    action,
};

// The REST error for `e`: worded and shaped. An error without problems (still worded by its
// service) is returned unchanged.
[[nodiscard]] core::error render_rest(const core::error& e, rest_form form = rest_form::serializer);

// The WebSocket error for `e`: `code`, `message` (the frame's `error`) and `field` of its first
// problem; a throttled request is `rate_limited` with its `retry_after` (§0.9). An error without
// problems is returned unchanged.
[[nodiscard]] core::error render_ws(const core::error& e);

// The contract text of one problem (its reader's own text when it carries one).
[[nodiscard]] std::string problem_text(const core::problem& p);

// The §0.6 code of one problem, as REST's `error` shape and the WebSocket report it.
[[nodiscard]] core::errc problem_code(const core::problem& p) noexcept;

// A problem found by a JSON reader, worded by it: `required` when the reader found the value
// missing, null or blank (its code), else invalid_input.
[[nodiscard]] core::problem reader_problem(std::string field, std::string text,
                                           core::errc code = core::errc::invalid);

// Field-shape entries of a reader (field_reader) as problems, one per message.
[[nodiscard]] std::vector<core::problem> reader_problems(
    const std::vector<core::field_error>& fields);

}  // namespace parley::api
