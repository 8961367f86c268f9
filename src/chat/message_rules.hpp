// Pure message rules (API.md §6.8, §6.9, §7.4), shared by the message use cases and unit-tested
// on their own.
#pragma once

#include "core/time.hpp"
#include "model/records.hpp"

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace parley::chat {

// §7.4 client-supplied link_preview: url absolute http/https ≤2048, title ≤300, description
// ≤1000, image absolute http/https ≤2048, site_name ≤200. Returns the first problem's text.
[[nodiscard]] std::optional<std::string> check_link_preview(const model::link_preview& p);

// True for an absolute http or https URL of at most 2048 characters (§7.4).
[[nodiscard]] bool is_http_url(std::string_view url) noexcept;

// §6.8 / §0.8: a reaction is 1–64 code points without control characters.
[[nodiscard]] bool valid_reaction(std::string_view r) noexcept;

// §6.9: appends the replaced content, stamped with the time it was written, keeping the newest
// `keep` entries.
void append_edit(std::vector<model::edit_entry>& history, std::string replaced,
                 core::timestamp written_at, std::size_t keep = 100);
}  // namespace parley::chat
