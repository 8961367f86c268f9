// History pages within a byte budget (API.md §0.11): the rows of a page read in chunks from the
// cursor outwards until the limit or the budget, and the few slots for pages built at full size.
#pragma once

#include "model/records.hpp"
#include "store/store.hpp"

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

namespace parley::chat {

// §0.11: while max_full_size_pages pages are being built (read and serialized) at full size,
// further pages are capped at busy_page_bytes, so a burst of large page requests cannot occupy
// every worker for long (measured on 2 cores, debug build: a 4 MiB page takes ~120 ms; 20 at once
// kept other requests waiting over a second).
constexpr int max_full_size_pages = 2;
constexpr std::size_t busy_page_bytes = 262144;

class full_size_pages {
public:
    // One of the slots, released when the last copy of the pointer goes; null when all are
    // taken. Thread-safe.
    [[nodiscard]] std::shared_ptr<const void> try_take();

private:
    std::shared_ptr<std::atomic<int>> in_flight_ = std::make_shared<std::atomic<int>>(0);
};

struct page_rows {
    std::vector<model::message> messages;  // oldest first
    bool has_more = false;
};

// The rows of a valid page (`q` holds its scope and cursors): messages are taken from the cursor
// outwards (newest first when paging backwards, oldest first with `after`) until `limit`, or
// until the next one would take the page's serialized size (chat::message_json_bytes) past
// `max_bytes` (at least one is always taken); has_more is set then too, so the Link header or
// has_more continue from where the page stopped. The rows are read in chunks sized by what the
// budget still holds, so a page of large messages never loads much more than the budget.
// `prepare` runs on each chunk before it is measured (signing attachment URLs, which count).
[[nodiscard]] page_rows read_capped_page(
    store::tx& tx, store::message_query q, std::int64_t limit, std::size_t max_bytes,
    const std::function<void(std::vector<model::message>&)>& prepare);

}  // namespace parley::chat
