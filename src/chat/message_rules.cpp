// Pure message rules (API.md §6.8, §6.9, §7.4), shared by the message use cases and unit-tested
// on their own.
#include "chat/message_rules.hpp"

#include "core/text.hpp"

#include <utility>

namespace parley::chat {

bool is_http_url(std::string_view url) noexcept {
    if (url.empty() || core::code_points(url) > 2048) return false;
    std::size_t scheme_len = 0;
    const auto lower = core::ascii_lower(url.substr(0, 8));
    if (lower.starts_with("http://")) {
        scheme_len = 7;
    } else if (lower.starts_with("https://")) {
        scheme_len = 8;
    } else {
        return false;
    }
    for (const char ch : url) {
        const auto c = static_cast<unsigned char>(ch);
        if (c <= 0x20 || c == 0x7F) return false;  // no whitespace or control characters
    }
    const auto rest = url.substr(scheme_len);
    const auto host = rest.substr(0, rest.find_first_of("/?#"));
    return !host.empty() && host.front() != ':' && host.front() != '@';
}

std::optional<std::string> check_link_preview(const model::link_preview& p) {
    constexpr std::string_view nul("\0", 1);
    const auto has_nul = [&](const std::optional<std::string>& s) {
        return s && s->find(nul) != std::string::npos;
    };
    if (!is_http_url(p.url)) return "Enter a valid http or https URL.";
    if (p.image && !is_http_url(*p.image)) return "Enter a valid http or https URL.";
    if (p.title && core::code_points(*p.title) > 300)
        return "Ensure title has no more than 300 characters.";
    if (p.description && core::code_points(*p.description) > 1000)
        return "Ensure description has no more than 1000 characters.";
    if (p.site_name && core::code_points(*p.site_name) > 200)
        return "Ensure site_name has no more than 200 characters.";
    if (has_nul(p.title) || has_nul(p.description) || has_nul(p.site_name))
        return "Null characters are not allowed.";
    return std::nullopt;
}

bool valid_reaction(std::string_view r) noexcept {
    return !r.empty() && core::code_points(r) <= 64 && !core::has_control_chars(r);
}

void append_edit(std::vector<model::edit_entry>& history, std::string replaced,
                 core::timestamp written_at, std::size_t keep) {
    history.push_back({std::move(replaced), written_at});
    if (history.size() > keep) {
        history.erase(history.begin(),
                      history.begin() + static_cast<std::ptrdiff_t>(history.size() - keep));
    }
}
}  // namespace parley::chat
