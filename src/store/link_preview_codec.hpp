// The messages.link_preview column: a link preview (API.md §7.4) as a small JSON object of
// strings, written and read here so that store/ needs no JSON library.
#pragma once

#include "model/records.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace parley::store {

// {"url": ..., "title": ..., "description": ..., "image": ..., "site_name": ...}; absent
// optional values are written as null. Non-ASCII text is written as UTF-8.
[[nodiscard]] std::string encode_link_preview(const model::link_preview& p);

// Reads what encode_link_preview wrote (and any JSON object of string/null values with \uXXXX
// escapes); unknown keys are skipped. nullopt when the text is not such an object or has no url.
[[nodiscard]] std::optional<model::link_preview> decode_link_preview(std::string_view text);

}  // namespace parley::store
