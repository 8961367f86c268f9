// libFuzzer target: link preview extraction from hostile HTML (media/preview.hpp, gumbo) and the
// address parser of the SSRF policy (media/ssrf.hpp; API.md §7.4). Outputs stay within the
// contract's caps and are valid UTF-8; parsing an address never misreads a blocked one.
#include "core/text.hpp"
#include "media/preview.hpp"
#include "media/ssrf.hpp"

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

namespace {

void check_text(const std::optional<std::string>& v, std::size_t max) {
    if (!v) return;
    if (v->empty() || !parley::core::valid_utf8(*v) || parley::core::code_points(*v) > max)
        std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    using namespace parley::media;

    const auto fields = extract_page_fields(input, "https://example.com/a/b");
    check_text(fields.title, max_title_chars);
    check_text(fields.description, max_description_chars);
    check_text(fields.site_name, max_site_name_chars);
    if (fields.image &&
        (fields.image->size() > max_preview_url_chars ||
         !(fields.image->starts_with("http://") || fields.image->starts_with("https://"))))
        std::abort();

    if (const auto url = parse_preview_url(input)) {
        if (url->host.empty() || url->port == 0 || url->target.empty()) std::abort();
    }
    if (const auto ip = parse_ip(input)) {
        // Loopback and private space are never public, whatever spelling got them here.
        if ((!ip->v6 && (ip->bytes[0] == 127 || ip->bytes[0] == 10)) && !blocked_reason(*ip))
            std::abort();
        if (const auto v4 = embedded_ipv4(*ip)) {
            if (blocked_reason(*v4) && !blocked_reason(*ip)) std::abort();
        }
    }
    return 0;
}
