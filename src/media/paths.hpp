// Stored file names and media URL paths (API.md §1.1, §7.1, §7.3). Every path that reaches the
// file system goes through these checks first: only names Parley itself issues are accepted, so
// `..`, encoded slashes, absolute paths and NUL bytes never get near a system call.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace parley::media {

// Folder of uploads under the media root, as in stored names ("uploads/<uuid4>.<ext>").
inline constexpr std::string_view uploads_folder = "uploads";
// URL prefix of media (§0.1, §7.3).
inline constexpr std::string_view media_url_prefix = "/media/";

// True for a name Parley issues inside uploads/: a lowercase uuid4 ("8-4-4-4-12" hex, version 4,
// RFC 4122 variant), optionally followed by "." and 1–10 of [a-z0-9].
[[nodiscard]] bool valid_upload_name(std::string_view name) noexcept;

// True for a stored name: "uploads/" + a valid upload name.
[[nodiscard]] bool valid_stored_name(std::string_view stored_name) noexcept;

// A fresh stored name "uploads/<uuid4>" or "uploads/<uuid4>.<ext>" (ext as from
// stored_extension(), may be empty). Uses the CSPRNG.
[[nodiscard]] std::string new_stored_name(std::string_view ext);

// "/media/" + stored name: the path a media URL signs (§7.3).
[[nodiscard]] std::string media_url_path(std::string_view stored_name);

// The stored name a media request's raw path (percent-encoding kept, query removed) names, or
// nullopt for anything else: a path outside /media/uploads/, more segments, a percent-decoded
// name that is not a valid upload name (so `..`, `%2F`, `%00`, backslashes and absolute paths
// are all refused). One trailing slash is allowed (§0.2).
[[nodiscard]] std::optional<std::string> stored_name_of_media_path(std::string_view raw_path);

}  // namespace parley::media
