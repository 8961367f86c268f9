// libFuzzer target: the media path sanitizer and the file name rules (media/paths.hpp,
// media/filenames.hpp; API.md §7.1–§7.3). Whatever the input, a media path maps only to a name
// Parley could have issued, and a sanitized file name is safe to store and to put in a header.
#include "core/text.hpp"
#include "media/filenames.hpp"
#include "media/paths.hpp"

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    using namespace parley;

    if (const auto name = media::stored_name_of_media_path(input)) {
        if (!media::valid_stored_name(*name)) std::abort();
        if (name->find("..") != std::string::npos || name->find('\0') != std::string::npos ||
            name->find('\\') != std::string::npos || name->find('/') != 7)  // "uploads/" only
            std::abort();
        if (name->rfind('/') != 7) std::abort();
    }
    (void)media::valid_upload_name(input);

    const std::string clean = media::sanitize_filename(input);
    if (clean.empty() || !core::valid_utf8(clean) || core::code_points(clean) > 255) std::abort();
    for (const char c : clean) {
        const auto b = static_cast<unsigned char>(c);
        if (b < 0x20 || b == 0x7F || c == '"' || c == '\\' || c == '/') std::abort();
    }
    const std::string ext = media::stored_extension(clean);
    if (ext.size() > 10) std::abort();
    for (const char c : ext)
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) std::abort();
    const std::string stored = media::new_stored_name(ext);
    if (!media::valid_stored_name(stored)) std::abort();

    const std::string disposition = media::content_disposition(clean, false);
    if (disposition.find_first_of("\r\n") != std::string::npos) std::abort();
    const std::string type = media::normalize_content_type(input);
    if (type.find_first_of("\r\n ;\"") != std::string::npos || type.find('/') == std::string::npos)
        std::abort();
    return 0;
}
