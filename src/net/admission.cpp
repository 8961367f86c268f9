// Connection caps and their address groups (admission.hpp; API.md §0.8).
#include "net/admission.hpp"

#include <algorithm>
#include <utility>

namespace parley::net {

std::string address_group(std::span<const unsigned char> raw) {
    static constexpr unsigned char v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    auto text = [](std::span<const unsigned char> bytes) {
        return std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    };
    if (raw.size() == 16) {
        if (std::equal(raw.begin(), raw.begin() + 12, std::begin(v4_mapped)))
            return "4" + text(raw.subspan(12));
        return "6" + text(raw.first(8));  // the /64
    }
    return "4" + text(raw);
}

std::size_t default_max_connections(std::uint64_t fd_limit) {
    const std::uint64_t reserve = std::max<std::uint64_t>(64, fd_limit / 8);
    if (fd_limit <= reserve) return 1;
    return static_cast<std::size_t>(std::min<std::uint64_t>(fd_limit - reserve, SIZE_MAX));
}

connection_slot& connection_slot::operator=(connection_slot&& other) noexcept {
    if (this != &other) {
        reset();
        owner_ = std::exchange(other.owner_, nullptr);
        group_ = std::move(other.group_);
    }
    return *this;
}

void connection_slot::reset() noexcept {
    if (owner_ != nullptr) owner_->release(group_);
    owner_ = nullptr;
}

connection_slot connection_limiter::admit(const std::string& group, refusal& why) {
    std::lock_guard lock(mutex_);
    if (total_ >= max_total_) {
        why = refusal::total;
        return {};
    }
    std::size_t& n = per_group_[group];
    if (max_per_group_ != 0 && n >= max_per_group_) {
        why = refusal::per_address;
        return {};  // n is at least 1 here: no zero entry is left behind
    }
    ++n;
    ++total_;
    why = refusal::none;
    return connection_slot(this, group);
}

void connection_limiter::release(const std::string& group) noexcept {
    std::lock_guard lock(mutex_);
    --total_;
    const auto it = per_group_.find(group);
    if (it != per_group_.end() && --it->second == 0) per_group_.erase(it);
}

std::size_t connection_limiter::total() const {
    std::lock_guard lock(mutex_);
    return total_;
}

std::size_t connection_limiter::count(const std::string& group) const {
    std::lock_guard lock(mutex_);
    const auto it = per_group_.find(group);
    return it == per_group_.end() ? 0 : it->second;
}

std::size_t connection_limiter::groups() const {
    std::lock_guard lock(mutex_);
    return per_group_.size();
}

}  // namespace parley::net
