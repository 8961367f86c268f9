// Route matching over the one table: both slash forms, id segments, 404 vs 405 (§0.2, §0.3).
#include "api/router.hpp"

#include "core/text.hpp"

#include <algorithm>

namespace parley::api {

namespace {

// Splits "/a/b/" into {"a", "b"}; empty segments in the middle make the path unmatchable.
bool split(std::string_view path, std::vector<std::string_view>& out) {
    out.clear();
    if (path.empty() || path.front() != '/') return false;
    path.remove_prefix(1);
    if (!path.empty() && path.back() == '/') path.remove_suffix(1);
    while (!path.empty()) {
        const auto slash = path.find('/');
        const auto seg = path.substr(0, slash);
        if (seg.empty()) return false;
        out.push_back(seg);
        if (slash == std::string_view::npos) break;
        path.remove_prefix(slash + 1);
    }
    return true;
}

bool matches(std::string_view tmpl, const std::vector<std::string_view>& segs,
             std::vector<model::id>& ids, std::vector<std::string_view>& texts) {
    std::vector<std::string_view> t;
    split(tmpl, t);
    ids.clear();
    texts.clear();
    for (std::size_t i = 0; i < t.size(); ++i) {
        if (i >= segs.size()) return false;
        if (t[i].front() != '{') {
            if (t[i] != segs[i]) return false;
        } else if (t[i].ends_with(":path}")) {
            // The rest of the path: from this segment to the last one, slashes included.
            const auto& last = segs.back();
            texts.emplace_back(segs[i].data(), static_cast<std::size_t>(last.data() + last.size() -
                                                                        segs[i].data()));
            return true;
        } else if (t[i].ends_with(":str}")) {
            texts.push_back(segs[i]);
        } else {
            const auto id = core::parse_id(segs[i]);
            if (!id) return false;
            ids.push_back(*id);
        }
    }
    return t.size() == segs.size();
}

}  // namespace

match match_route(std::span<const route> table, std::string_view method, std::string_view path) {
    match m;
    std::vector<std::string_view> segs;
    if (!split(path, segs)) return m;
    std::vector<model::id> ids;
    std::vector<std::string_view> texts;
    for (const auto& r : table) {
        if (!matches(r.path, segs, ids, texts)) continue;
        m.path_known = true;
        if (m.path_template.empty()) m.path_template = r.path;
        if (std::find(m.allow.begin(), m.allow.end(), r.method) == m.allow.end())
            m.allow.push_back(r.method);
        if (r.method == method && m.found == nullptr) {
            m.found = &r;
            m.ids = ids;
            m.texts = texts;
        }
    }
    return m;
}

}  // namespace parley::api
