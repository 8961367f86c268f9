// The built-in web client's files (web/), embedded at build time by cmake/embed_web.cmake into a
// generated web_assets.cpp: bytes, a precomputed gzip version and a strong ETag per file.
#pragma once

#include <span>
#include <string_view>

namespace parley::api {

struct web_asset {
    std::string_view name;  // path under web/: "index.html", "views/chat.js"
    std::string_view body;
    std::string_view gzip;  // `gzip -9n` of body; empty when it would not be smaller
    std::string_view hash;  // hex SHA-256 prefix of body: the ETag is "<hash>" / "<hash>-gz"
};

// Every embedded file, sorted by name.
[[nodiscard]] std::span<const web_asset> web_assets();

// The file with this name, or nullptr.
[[nodiscard]] const web_asset* find_web_asset(std::string_view name);

}  // namespace parley::api
