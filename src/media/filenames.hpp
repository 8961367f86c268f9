// The file name and type rules of uploads and downloads (API.md §7.1–§7.3): what is stored
// from a client's part headers, and how names and types go back out in response headers.
#pragma once

#include <string>
#include <string_view>

namespace parley::media {

// Longest stored original file name, in code points (§1.1, §7.1).
inline constexpr std::size_t max_filename_chars = 255;

// §7.1: the part's filename with any path removed (up to the last `/` or `\`), control characters
// (C0, DEL, C1) and `"` `\` `/` removed, cut to 255 code points keeping the extension, "file" if
// nothing is left. Invalid UTF-8 sequences are dropped, so the result is always valid UTF-8.
[[nodiscard]] std::string sanitize_filename(std::string_view raw);

// §7.1 `<ext>` of the stored name: the name's extension (after the last dot that does not start
// the name) lowercased, if it matches [a-z0-9]{1,10}; otherwise "".
[[nodiscard]] std::string stored_extension(std::string_view filename);

// §7.1: the part's media type `type/subtype` (RFC 9110 tokens; parameters dropped, lowercased)
// when syntactically valid, otherwise "application/octet-stream".
[[nodiscard]] std::string normalize_content_type(std::string_view raw);

// §7.3: image/png, image/jpeg, image/gif and image/webp are served inline; everything else as an
// attachment.
[[nodiscard]] bool served_inline(std::string_view content_type) noexcept;

// §7.2 (RFC 6266, RFC 5987): `attachment; filename="<ASCII fallback>"; filename*=UTF-8''<pct>`
// (or `inline; ...`). The fallback replaces non-ASCII and unsafe characters with `_`.
[[nodiscard]] std::string content_disposition(std::string_view filename, bool inline_disposition);

}  // namespace parley::media
