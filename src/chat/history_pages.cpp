// History pages within a byte budget (API.md §0.11).
#include "chat/history_pages.hpp"

#include "chat/content_rules.hpp"

#include <algorithm>

namespace parley::chat {

std::shared_ptr<const void> full_size_pages::try_take() {
    if (in_flight_->fetch_add(1) >= max_full_size_pages) {
        in_flight_->fetch_sub(1);
        return nullptr;
    }
    return {in_flight_.get(), [keep = in_flight_](const void*) { keep->fetch_sub(1); }};
}

page_rows read_capped_page(store::tx& tx, store::message_query q, std::int64_t limit,
                           std::size_t max_bytes,
                           const std::function<void(std::vector<model::message>&)>& prepare) {
    constexpr std::int64_t first_chunk = 100;
    const bool forward = q.after.has_value();
    page_rows out;
    std::vector<model::message> taken;  // from the cursor outwards
    std::size_t bytes = 2;              // []
    std::int64_t chunk = std::min(limit, first_chunk);
    for (;;) {
        const std::int64_t want = std::min(chunk, limit - static_cast<std::int64_t>(taken.size()));
        q.limit = want + 1;  // one more tells whether more exist in the paging direction
        auto rows = tx.message_page(q);  // oldest first
        const bool more = static_cast<std::int64_t>(rows.size()) > want;
        if (more) {
            if (forward) {
                rows.pop_back();
            } else {
                rows.erase(rows.begin());
            }
        }
        if (!forward) std::reverse(rows.begin(), rows.end());
        if (prepare) prepare(rows);
        for (auto& m : rows) {
            const auto n = message_json_bytes(m);
            if (!taken.empty() && bytes + n > max_bytes) {
                out.has_more = true;
                break;
            }
            bytes += n;
            taken.push_back(std::move(m));
        }
        if (out.has_more || !more) break;
        if (static_cast<std::int64_t>(taken.size()) >= limit) {
            out.has_more = true;
            break;
        }
        if (forward) {
            q.after = taken.back().id;
        } else {
            q.before = taken.back().id;
        }
        const auto average = bytes / taken.size() + 1;
        chunk = std::clamp<std::int64_t>(
            static_cast<std::int64_t>((max_bytes - std::min(bytes, max_bytes)) / average) + 1, 1,
            limit);
    }
    if (!forward) std::reverse(taken.begin(), taken.end());
    out.messages = std::move(taken);
    return out;
}

}  // namespace parley::chat
