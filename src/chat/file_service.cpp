// Files: uploads recorded after their bytes are in place, access per §7.2, the orphan sweep.
#include "chat/file_service.hpp"

#include "chat/permissions.hpp"

#include "media/paths.hpp"

#include <spdlog/spdlog.h>

#include <sys/statvfs.h>

#include <chrono>
#include <exception>
#include <limits>

namespace parley::chat {

namespace {

// Rows deleted per sweep statement; the sweep repeats until a batch comes back short.
constexpr std::size_t sweep_batch = 500;
// A temporary upload file untouched this long belongs to no live request (each write of a
// live upload refreshes it, and reads time out after 30 s): a crash left it.
constexpr std::chrono::seconds stale_temp_age{3600};

}  // namespace

file_service::file_service(store::store& store, const media::file_store& files,
                           const config::media_settings& settings,
                           std::function<core::timestamp()> clock)
    : store_(store), files_(files), settings_(settings), clock_(std::move(clock)) {}

core::error file_not_found() {
    return core::problem_at(core::problem_kind::file_not_found);
}

core::error upload_quota_exceeded(std::uint64_t quota_bytes) {
    return core::problem_at(core::problem_kind::upload_quota_exceeded, {},
                            static_cast<std::int64_t>(quota_bytes));
}

core::error insufficient_storage() {
    return core::problem_at(core::problem_kind::insufficient_storage);
}

upload_budget::~upload_budget() {
    if (counted_ > 0) owner_.add_in_flight(user_, -static_cast<std::int64_t>(counted_));
}

core::result<void> upload_budget::check(std::uint64_t received_bytes) {
    const auto& s = owner_.settings_;
    if (received_bytes > counted_) {
        const auto in_flight =
            owner_.add_in_flight(user_, static_cast<std::int64_t>(received_bytes - counted_));
        counted_ = received_bytes;
        if (s.upload_quota_bytes > 0 && stored_bytes_ + in_flight > s.upload_quota_bytes)
            return upload_quota_exceeded(s.upload_quota_bytes);
    }
    // The bytes already written are no longer free: the reserve itself must stay.
    if (s.min_free_disk_bytes > 0 && owner_.free_disk_bytes() < s.min_free_disk_bytes)
        return insufficient_storage();
    return {};
}

std::uint64_t file_service::add_in_flight(model::id user, std::int64_t delta) {
    std::lock_guard lock(in_flight_mutex_);
    auto& n = in_flight_[user];
    n = static_cast<std::uint64_t>(static_cast<std::int64_t>(n) + delta);
    const auto total = n;
    if (n == 0) in_flight_.erase(user);
    return total;
}

std::uint64_t file_service::free_disk_bytes() const {
    struct statvfs st {};
    if (::statvfs(files_.uploads_dir().c_str(), &st) != 0)
        return std::numeric_limits<std::uint64_t>::max();
    return static_cast<std::uint64_t>(st.f_bavail) * st.f_frsize;
}

core::result<std::unique_ptr<upload_budget>> file_service::begin_upload(
    const model::user& uploader, std::optional<std::uint64_t> declared_bytes) {
    // The multipart framing around the file: a declared body this much over the room left may
    // still carry a file that fits.
    constexpr std::uint64_t framing_bytes = 64 * 1024;
    const std::uint64_t declared = declared_bytes.value_or(0);
    const std::uint64_t file_bytes = declared > framing_bytes ? declared - framing_bytes : 0;
    if (settings_.min_free_disk_bytes > 0 &&
        free_disk_bytes() < settings_.min_free_disk_bytes + file_bytes)
        return insufficient_storage();
    std::uint64_t stored = 0;
    if (settings_.upload_quota_bytes > 0) {
        stored = static_cast<std::uint64_t>(
            store_.read([&](store::tx& tx) { return tx.uploaded_bytes(uploader.id); }));
        std::uint64_t in_flight = 0;
        {
            std::lock_guard lock(in_flight_mutex_);
            if (const auto it = in_flight_.find(uploader.id); it != in_flight_.end())
                in_flight = it->second;
        }
        if (stored + in_flight + file_bytes > settings_.upload_quota_bytes)
            return upload_quota_exceeded(settings_.upload_quota_bytes);
    }
    return std::make_unique<upload_budget>(*this, uploader.id, stored);
}

model::attachment file_service::save(const model::user& uploader, media::upload_receiver& upload,
                                     const media::received_upload& got) {
    model::attachment a;
    a.stored_name = media::new_stored_name(got.extension);
    a.original_filename = got.filename;
    a.content_type = got.content_type;
    a.size = static_cast<std::int64_t>(got.size);
    a.uploaded_by = uploader.id;
    a.created_at = clock_();
    // Bytes first, then the row: a row never names a file that is not there.
    upload.commit(a.stored_name);
    try {
        store_.run(true, [&](store::tx& tx) {
            a.id = tx.insert_attachment(a);
            return true;
        });
    } catch (...) {
        files_.remove(a.stored_name);
        throw;
    }
    return a;
}

core::result<file_download> file_service::open_download(const model::user& caller, model::id file) {
    const auto row = store_.read([&](store::tx& tx) -> std::optional<model::attachment> {
        auto a = tx.attachment_by_id(file);
        if (!a) return std::nullopt;
        if (permissions::can_download(tx, caller, *a)) return a;
        return std::nullopt;
    });
    if (!row) return file_not_found();
    auto body = files_.open(row->stored_name);
    if (!body) return file_not_found();
    return file_download{*row, std::move(*body)};
}

core::result<file_download> file_service::open_media(std::string_view stored_name) {
    const auto row =
        store_.read([&](store::tx& tx) { return tx.attachment_by_stored_name(stored_name); });
    if (!row) return core::problem_at(core::problem_kind::not_found);
    auto body = files_.open(row->stored_name);
    if (!body) return core::problem_at(core::problem_kind::not_found);
    return file_download{*row, std::move(*body)};
}

std::size_t file_service::sweep_orphans() {
    const auto ttl_us =
        std::chrono::duration_cast<std::chrono::microseconds>(settings_.orphan_file_ttl).count();
    const core::timestamp cutoff = clock_() - ttl_us;
    std::size_t removed = 0;
    for (;;) {
        std::vector<std::string> names;
        store_.run(true, [&](store::tx& tx) {
            names = tx.delete_orphan_attachments(cutoff, sweep_batch);
            return true;
        });
        // Rows are gone (committed) before files: a download racing the sweep gets a clean 404.
        for (const auto& n : names) {
            if (files_.remove(n)) ++removed;
        }
        if (names.size() < sweep_batch) break;
    }
    const auto temps = files_.remove_stale_temps(stale_temp_age);
    if (removed > 0 || temps > 0)
        spdlog::info("orphan sweep: removed {} files and {} stale temporary files", removed, temps);
    return removed;
}

}  // namespace parley::chat
