// libFuzzer target: the incremental multipart/form-data parser (media/multipart.hpp) and the
// boundary reader, on arbitrary bytes fed in arbitrary pieces (API.md §7.1).
// Input: "<Content-Type>\n<body>"; the first byte of the body also picks the piece size.
#include "media/multipart.hpp"

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

namespace {

using parley::media::multipart_handler;
using parley::media::multipart_parser;
using parley::media::part_head;

// Checks the callback protocol: data and end only inside a part, never empty data.
class checker final : public multipart_handler {
public:
    bool on_part(const part_head&) override {
        if (in_part_) std::abort();
        in_part_ = true;
        return true;
    }
    bool on_data(std::string_view bytes) override {
        if (!in_part_ || bytes.empty()) std::abort();
        bytes_ += bytes.size();
        return true;
    }
    bool on_part_end() override {
        if (!in_part_) std::abort();
        in_part_ = false;
        return true;
    }
    std::size_t bytes_ = 0;

private:
    bool in_part_ = false;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    const auto nl = input.find('\n');
    const auto type = input.substr(0, nl);
    const auto body = nl == std::string_view::npos ? std::string_view{} : input.substr(nl + 1);
    const auto boundary = parley::media::form_data_boundary(type);
    if (boundary && (boundary->empty() || boundary->size() > 70)) std::abort();

    checker c;
    multipart_parser p(boundary.value_or("b"), c);
    const std::size_t step = body.empty() ? 1 : static_cast<unsigned char>(body[0]) % 64 + 1;
    for (std::size_t i = 0; i < body.size(); i += step) {
        const auto st = p.feed(body.substr(i, step));
        if (st == multipart_parser::status::malformed || st == multipart_parser::status::done)
            break;
    }
    p.finish();
    if (c.bytes_ > body.size()) std::abort();  // never invents bytes
    return 0;
}
