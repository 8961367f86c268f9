// The stream frame tail shared by every stream_publisher (API.md §8.8).
#include "fanout/stream_publisher.hpp"

namespace parley::fanout {

std::string complete_frame(std::string_view body, std::int64_t offset, std::string_view epoch) {
    std::string out;
    out.reserve(body.size() + epoch.size() + 40);
    out.append(body.substr(0, body.empty() ? 0 : body.size() - 1));  // without the final '}'
    if (out.size() > 1) out.push_back(',');
    out.append(R"("offset":)").append(std::to_string(offset));
    out.append(R"(,"epoch":")").append(epoch).append(R"("})");
    return out;
}

}  // namespace parley::fanout
