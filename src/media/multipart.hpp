// An incremental multipart/form-data parser (RFC 7578, RFC 2046 §5.1) for uploads (API.md §7.1):
// bytes go in as they arrive, in pieces of any size; part headers, data and ends come out through
// a handler. Nothing here buffers a part's data: memory stays bounded by the header limit.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace parley::media {

// The boundary of a `multipart/form-data; boundary=...` Content-Type (quoted or not; RFC 2046:
// 1–70 characters of bchars, not ending in a space). nullopt for any other type or a missing or
// invalid boundary.
[[nodiscard]] std::optional<std::string> form_data_boundary(std::string_view content_type);

// What a part's headers say.
struct part_head {
    std::string name;                     // Content-Disposition `name` ("" when absent)
    std::optional<std::string> filename;  // `filename*` (RFC 5987, decoded) or `filename`, raw
    std::string content_type;             // the part's Content-Type value as sent ("" if absent)
};

// Receives the parse. Each callback returns false to stop the parser (feed() then answers
// status::stopped and ignores further input).
class multipart_handler {
public:
    virtual ~multipart_handler() = default;
    // A part begins; its headers are complete.
    virtual bool on_part(const part_head& head) = 0;
    // The next bytes of the current part's body (never empty).
    virtual bool on_data(std::string_view bytes) = 0;
    // The current part's body is complete (its closing delimiter was seen).
    virtual bool on_part_end() = 0;
};

class multipart_parser {
public:
    enum class status {
        more,       // waiting for more input
        done,       // the close delimiter was seen; anything after it is ignored
        stopped,    // a handler callback returned false
        malformed,  // not valid multipart; further input is ignored
    };

    struct limits {
        std::size_t max_header_bytes = 8 * 1024;     // one part's header block
        std::size_t max_parts = 64;                  // parts in one body
        std::size_t max_preamble_bytes = 64 * 1024;  // bytes before the first delimiter
    };

    // `boundary` as returned by form_data_boundary(); the handler must outlive the parser.
    multipart_parser(std::string boundary, multipart_handler& handler, limits l);
    multipart_parser(std::string boundary, multipart_handler& handler)
        : multipart_parser(std::move(boundary), handler, limits{}) {}

    // Consumes the next bytes of the body.
    status feed(std::string_view bytes);
    // The body ended: done when the close delimiter was seen, else malformed (unless stopped).
    status finish();
    [[nodiscard]] status state() const noexcept { return status_; }

private:
    enum class phase { preamble, after_delimiter, headers, body, epilogue };

    void run();
    bool step();  // one transition; false when more input is needed
    bool parse_headers(std::string_view block, part_head& out) const;
    void fail(status s) {
        status_ = s;
        pending_.clear();
    }

    std::string delimiter_;  // "\r\n--" + boundary
    multipart_handler& handler_;
    limits limits_;
    std::string pending_;  // input not consumed yet (bounded: see step())
    phase phase_ = phase::preamble;
    status status_ = status::more;
    std::size_t preamble_bytes_ = 0;
    std::size_t parts_ = 0;
};

}  // namespace parley::media
