// Text helpers for HTTP request heads (no Beast: see http_text.hpp).
#include "net/http_text.hpp"

#include <algorithm>

namespace parley::net {

namespace {

bool is_tchar(char c) {
    // RFC 9110 token characters, enough to recognise a method.
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) return true;
    return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

bool iequals(std::string_view a, std::string_view b) {
    return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
        auto lower = [](char c) { return (c >= 'A' && c <= 'Z') ? char(c - 'A' + 'a') : c; };
        return lower(x) == lower(y);
    });
}

}  // namespace

void split_target(std::string_view target, std::string& path, std::string& query) {
    const auto q = target.find('?');
    if (q == std::string_view::npos) {
        path.assign(target);
        query.clear();
        return;
    }
    path.assign(target.substr(0, q));
    query.assign(target.substr(q + 1));
}

std::string ascii_lower(std::string_view s) {
    std::string out(s);
    for (char& c : out)
        if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
    return out;
}

std::string_view first_list_item(std::string_view value) {
    return trim(value.substr(0, value.find(',')));
}

void apply_forwarded_headers(api::request& req, const core::trusted_proxies& proxies) {
    if (!proxies.trusts(req.remote_addr)) return;  // a client, not a proxy: its headers are its own
    std::vector<std::string_view> forwarded_for;
    for (const auto& [name, value] : req.headers)
        if (name == "x-forwarded-for") forwarded_for.emplace_back(value);
    req.remote_addr = core::forwarded_client(req.remote_addr, forwarded_for, proxies);
    if (auto proto = req.header("x-forwarded-proto")) {
        const auto scheme = ascii_lower(first_list_item(*proto));
        if (scheme == "http" || scheme == "https") req.scheme = scheme;
    }
}

request_line_scan scan_request_line(std::string_view head) {
    request_line_scan scan;
    const auto eol = head.find("\r\n");
    scan.complete = eol != std::string_view::npos;
    const auto line = scan.complete ? head.substr(0, eol) : head;
    const auto sp = line.find(' ');
    if (sp == std::string_view::npos) return scan;
    const auto method = line.substr(0, sp);
    if (!method.empty() && std::all_of(method.begin(), method.end(), is_tchar))
        scan.method.assign(method);
    auto rest = line.substr(sp + 1);
    // A complete line ends with " HTTP/x.y"; an incomplete one is all target so far.
    if (scan.complete) {
        const auto last_sp = rest.rfind(' ');
        if (last_sp != std::string_view::npos) rest = rest.substr(0, last_sp);
    }
    scan.target_bytes = rest.size();
    return scan;
}

bool is_websocket_upgrade(const api::request& req) {
    if (req.path != "/ws/chat" && req.path != "/ws/chat/") return false;
    const auto upgrade = req.header("upgrade");
    return upgrade && iequals(trim(*upgrade), "websocket");
}

}  // namespace parley::net
