// UTC timestamps: clock and ISO 8601 formatting (API.md §0.5).
#include "core/time.hpp"

#include <chrono>
#include <cstdio>

namespace parley::core {

timestamp now_us() noexcept {
    using namespace std::chrono;
    return duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
}

std::string iso8601(timestamp t) {
    using namespace std::chrono;
    const sys_time<microseconds> tp{microseconds{t}};
    const auto day = floor<days>(tp);
    const year_month_day ymd{day};
    const hh_mm_ss<microseconds> hms{tp - day};
    char buf[40];
    std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d.%06lldZ", int(ymd.year()),
                  unsigned(ymd.month()), unsigned(ymd.day()), int(hms.hours().count()),
                  int(hms.minutes().count()), int(hms.seconds().count()),
                  static_cast<long long>(hms.subseconds().count()));
    return buf;
}

std::optional<timestamp> parse_iso8601(std::string_view s) {
    using namespace std::chrono;
    int y, mo, d, h, mi, sec;
    long long us;
    char z;
    if (s.size() != 27) return std::nullopt;
    const std::string str(s);
    if (std::sscanf(str.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d.%6lld%c", &y, &mo, &d, &h, &mi, &sec, &us,
                    &z) != 8 ||
        z != 'Z')
        return std::nullopt;
    const year_month_day ymd{year{y}, month{unsigned(mo)}, day{unsigned(d)}};
    if (!ymd.ok() || h > 23 || mi > 59 || sec > 59) return std::nullopt;
    const auto tp = sys_days{ymd} + hours{h} + minutes{mi} + seconds{sec} + microseconds{us};
    return duration_cast<microseconds>(tp.time_since_epoch()).count();
}

}  // namespace parley::core
