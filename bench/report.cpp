// Figures and their presentation: the latency histogram, /proc samples of the server, the
// human-readable table and the one JSON line per run.
#include "bench.hpp"

#include "core/utc_text.hpp"  // header-only: bench links no server module

#include <boost/json.hpp>

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace parley::bench {

namespace {

// Bucket of a value: exact below 2^sub_bits, then 2^(sub_bits-1) sub-buckets per power of two.
template <int SubBits>
int bucket_of(std::uint64_t v) {
    constexpr std::uint64_t exact = std::uint64_t{1} << SubBits;
    if (v < exact) return static_cast<int>(v);
    const int shift = (63 - std::countl_zero(v)) - (SubBits - 1);
    const auto mantissa = static_cast<int>(v >> shift);  // in [2^(SubBits-1), 2^SubBits)
    constexpr int half = 1 << (SubBits - 1);
    return half * (shift + 1) + (mantissa - half);
}

template <int SubBits>
double value_of(int bucket) {
    constexpr int exact = 1 << SubBits;
    if (bucket < exact) return bucket;
    constexpr int half = 1 << (SubBits - 1);
    const int shift = bucket / half - 1;
    const double mantissa = half + bucket % half;
    return std::ldexp(mantissa + 0.5, shift);  // middle of the bucket
}

}  // namespace

void result::set(const std::string& key, value v) {
    for (auto& [k, old] : items) {
        if (k == key) {
            old = std::move(v);
            return;
        }
    }
    items.emplace_back(key, std::move(v));
}

void histogram::record(std::int64_t ns) {
    if (ns < 0) ns = 0;
    const int b = bucket_of<sub_bits>(static_cast<std::uint64_t>(ns));
    ++counts_[static_cast<std::size_t>(std::min(b, buckets - 1))];
    ++count_;
    max_ = std::max(max_, ns);
    sum_ += ns;
}

double histogram::percentile_ms(double p) const {
    if (count_ == 0) return 0;
    const auto rank = static_cast<std::int64_t>(std::ceil(p / 100.0 * static_cast<double>(count_)));
    const std::int64_t target = std::clamp<std::int64_t>(rank, 1, count_);
    std::int64_t seen = 0;
    for (int b = 0; b < buckets; ++b) {
        seen += counts_[static_cast<std::size_t>(b)];
        if (seen >= target) {
            return std::min(value_of<sub_bits>(b), static_cast<double>(max_)) / 1e6;
        }
    }
    return max_ms();
}

double histogram::mean_ms() const {
    return count_ == 0 ? 0 : static_cast<double>(sum_ / count_) / 1e6;
}

void add_latency(result& r, const std::string& prefix, const histogram& h) {
    r.set(prefix + "p50_ms", h.percentile_ms(50));
    r.set(prefix + "p90_ms", h.percentile_ms(90));
    r.set(prefix + "p99_ms", h.percentile_ms(99));
    r.set(prefix + "max_ms", h.max_ms());
}

namespace {

// Sum of the second field of /proc/PID/task/*/schedstat (run-queue wait, ns), in seconds.
double runq_wait_of(const std::string& proc_dir) {
    double total_ns = 0;
    std::error_code ec;
    for (const auto& task : std::filesystem::directory_iterator(proc_dir + "/task", ec)) {
        std::ifstream in(task.path() / "schedstat");
        double on_cpu = 0, waiting = 0;
        if (in >> on_cpu >> waiting) total_ns += waiting;
    }
    return total_ns / 1e9;
}

}  // namespace

double self_runq_wait_s() {
    return runq_wait_of("/proc/self");
}

process_sample sample_process(int pid) {
    process_sample s;
    if (pid <= 0) return s;
    const std::string dir = "/proc/" + std::to_string(pid);
    std::ifstream stat(dir + "/stat");
    std::string line;
    if (!std::getline(stat, line)) return s;
    // Field 2 (comm) may hold spaces: parse after its closing parenthesis. utime and stime are
    // fields 14 and 15, i.e. the 12th and 13th after the state (field 3).
    const auto close = line.rfind(')');
    if (close == std::string::npos) return s;
    std::istringstream rest(line.substr(close + 2));
    std::string field;
    double utime = 0, stime = 0;
    for (int i = 3; i <= 15 && rest >> field; ++i) {
        if (i == 14) utime = std::stod(field);
        if (i == 15) stime = std::stod(field);
    }
    const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
    s.cpu_s = (utime + stime) / ticks;
    std::ifstream status(dir + "/status");
    while (std::getline(status, line)) {
        if (line.rfind("VmRSS:", 0) == 0) s.rss_kib = std::stoll(line.substr(6));
        if (line.rfind("Threads:", 0) == 0) s.threads = std::stoll(line.substr(8));
    }
    s.runq_wait_s = runq_wait_of(dir);
    s.ok = true;
    return s;
}

double self_cpu_s() {
    rusage u{};
    ::getrusage(RUSAGE_SELF, &u);
    const auto sec = [](const timeval& t) { return t.tv_sec + t.tv_usec / 1e6; };
    return sec(u.ru_utime) + sec(u.ru_stime);
}

std::int64_t raise_nofile_limit() {
    rlimit lim{};
    if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) return 1024;
    if (lim.rlim_cur < lim.rlim_max) {
        lim.rlim_cur = lim.rlim_max;
        ::setrlimit(RLIMIT_NOFILE, &lim);
        ::getrlimit(RLIMIT_NOFILE, &lim);
    }
    return static_cast<std::int64_t>(lim.rlim_cur);
}

namespace {

std::string show(const value& v) {
    char buf[64];
    if (const auto* d = std::get_if<double>(&v)) {
        const double a = std::fabs(*d);
        std::snprintf(buf, sizeof buf, a >= 1000 ? "%.0f" : a >= 10 ? "%.1f" : "%.3f", *d);
        return buf;
    }
    if (const auto* i = std::get_if<std::int64_t>(&v)) return std::to_string(*i);
    if (const auto* b = std::get_if<bool>(&v)) return *b ? "yes" : "no";
    return std::get<std::string>(v);
}

// JSON text of one value: numbers in plain decimal notation with at most three decimals
// (Boost.JSON would print doubles as 7.188E3).
std::string to_json(const value& v) {
    if (const auto* d = std::get_if<double>(&v)) {
        if (!std::isfinite(*d)) return "null";
        char buf[64];
        std::snprintf(buf, sizeof buf, "%.3f", *d);
        std::string text = buf;
        while (!text.empty() && text.back() == '0') text.pop_back();
        if (!text.empty() && text.back() == '.') text.pop_back();
        return text == "-0" ? "0" : text;
    }
    if (const auto* i = std::get_if<std::int64_t>(&v)) return std::to_string(*i);
    if (const auto* b = std::get_if<bool>(&v)) return *b ? "true" : "false";
    return boost::json::serialize(boost::json::string(std::get<std::string>(v)));
}

std::string quote(const std::string& s) {
    return boost::json::serialize(boost::json::string(s));
}

}  // namespace

void print_report(const options& o, const result& r) {
    const bool ok = r.problems.empty();
    std::printf("\n%s  (%s, %s)\n", o.scenario.c_str(),
                o.backend.empty() ? "unknown backend" : o.backend.c_str(), ok ? "ok" : "FAILED");
    std::size_t width = 8;
    for (const auto& [k, v] : r.items) width = std::max(width, k.size());
    const std::string rule(width + 18, '-');
    std::printf("%s\n", rule.c_str());
    for (const auto& [k, v] : r.items) {
        std::printf("  %-*s  %14s\n", static_cast<int>(width), k.c_str(), show(v).c_str());
    }
    std::printf("%s\n", rule.c_str());
    for (const auto& n : r.notes) std::printf("  note: %s\n", n.c_str());
    for (const auto& p : r.problems) std::printf("  PROBLEM: %s\n", p.c_str());

    // One JSON object per run; keys in report order. A key given twice (--meta) keeps the first.
    std::vector<std::string> keys;
    std::string text = "{";
    const auto add = [&](const std::string& key, const std::string& json_value) {
        if (std::find(keys.begin(), keys.end(), key) != keys.end()) return;
        keys.push_back(key);
        if (text.size() > 1) text += ",";
        text += quote(key) + ":" + json_value;
    };
    add("scenario", quote(o.scenario));
    add("backend", quote(o.backend.empty() ? "unknown" : o.backend));
    for (const auto& [k, v] : r.items) add(k, to_json(v));
    add("ok", ok ? "true" : "false");
    if (!ok) {
        std::string problems = "[";
        for (const auto& p : r.problems) problems += (problems.size() > 1 ? "," : "") + quote(p);
        add("problems", problems + "]");
    }
    add("smoke", o.smoke ? "true" : "false");
    add("time", quote(parley::core::utc_now_text()));
    for (const auto& [k, v] : o.meta) add(k, quote(v));
    text += "}";
    std::printf("%s\n", text.c_str());
    std::fflush(stdout);
    if (!o.json_out.empty()) {
        std::ofstream out(o.json_out, std::ios::app);
        out << text << '\n';
        if (!out) std::fprintf(stderr, "parley-bench: cannot append to %s\n", o.json_out.c_str());
    }
}

}  // namespace parley::bench
