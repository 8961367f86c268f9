// The uploads folder: POSIX calls for O_EXCL temp files, atomic renames and no-symlink opens.
#include "media/file_store.hpp"

#include "media/paths.hpp"

#include <openssl/rand.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cerrno>
#include <system_error>

namespace parley::media {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view temp_prefix = ".upload-";
constexpr std::string_view temp_suffix = ".part";

[[noreturn]] void throw_errno(const char* what) {
    throw std::system_error(errno, std::generic_category(), what);
}

std::string random_hex(std::size_t bytes) {
    std::string raw(bytes, '\0');
    if (RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(bytes)) != 1)
        throw std::runtime_error("the CSPRNG failed");
    constexpr char hex[] = "0123456789abcdef";
    std::string out;
    for (const char c : raw) {
        const auto b = static_cast<unsigned char>(c);
        out.push_back(hex[b >> 4]);
        out.push_back(hex[b & 0x0F]);
    }
    return out;
}

// Flushes a directory's entries (a rename into it) to disk; throws on failure.
void sync_directory(const fs::path& dir) {
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) throw_errno("open upload folder");
    const bool ok = ::fsync(fd) == 0;
    const int e = errno;
    ::close(fd);
    if (!ok) throw std::system_error(e, std::generic_category(), "fsync upload folder");
}

}  // namespace

open_file::~open_file() {
    if (fd_ >= 0) ::close(fd_);
}

temp_file::~temp_file() {
    discard();
}

void temp_file::write(std::string_view bytes) {
    while (!bytes.empty()) {
        const ssize_t n = ::write(fd_, bytes.data(), bytes.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            throw_errno("write upload");
        }
        bytes.remove_prefix(static_cast<std::size_t>(n));
    }
}

void temp_file::commit(const fs::path& final_path) {
    if (done_) throw std::logic_error("temp_file committed twice");
    // The bytes reach the disk before the name does, and the name before the caller records the
    // file in the database: after a power loss a row never names a missing or partial file.
    const bool synced = ::fsync(fd_) == 0;
    const int sync_error = errno;
    if (::close(fd_) != 0 || !synced) {
        const int e = synced ? errno : sync_error;
        fd_ = -1;
        discard();
        throw std::system_error(e, std::generic_category(),
                                synced ? "close upload" : "fsync upload");
    }
    fd_ = -1;
    if (::rename(path_.c_str(), final_path.c_str()) != 0) {
        const int e = errno;
        discard();
        throw std::system_error(e, std::generic_category(), "rename upload");
    }
    done_ = true;
    try {
        sync_directory(final_path.parent_path());
    } catch (...) {
        ::unlink(final_path.c_str());  // no row will name it
        throw;
    }
}

void temp_file::discard() noexcept {
    if (fd_ >= 0) {
        ::close(fd_);
        fd_ = -1;
    }
    if (!done_) {
        ::unlink(path_.c_str());
        done_ = true;
    }
}

file_store::file_store(fs::path media_root) : uploads_(std::move(media_root) / uploads_folder) {
    std::error_code ec;
    fs::create_directories(uploads_, ec);
    if (ec) throw std::system_error(ec, "create " + uploads_.string());
    ::chmod(uploads_.c_str(), 0700);
}

std::unique_ptr<temp_file> file_store::create_temp() const {
    const fs::path path =
        uploads_ / (std::string(temp_prefix) + random_hex(12) + std::string(temp_suffix));
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) throw_errno("create upload");
    return std::make_unique<temp_file>(path, fd);
}

std::optional<fs::path> file_store::path_of(std::string_view stored_name) const {
    if (!valid_stored_name(stored_name)) return std::nullopt;
    return uploads_ / stored_name.substr(uploads_folder.size() + 1);
}

std::optional<open_file> file_store::open(std::string_view stored_name) const {
    const auto path = path_of(stored_name);
    if (!path) return std::nullopt;
    const int fd = ::open(path->c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return std::nullopt;
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd);
        return std::nullopt;
    }
    return open_file(fd, static_cast<std::uint64_t>(st.st_size));
}

bool file_store::remove(std::string_view stored_name) const noexcept {
    const auto path = path_of(stored_name);
    if (!path) return false;
    return ::unlink(path->c_str()) == 0 || errno == ENOENT;
}

std::size_t file_store::remove_stale_temps(std::chrono::seconds age) const noexcept {
    std::size_t removed = 0;
    std::error_code ec;
    const auto cutoff = fs::file_time_type::clock::now() - age;
    for (fs::directory_iterator it(uploads_, ec), end; !ec && it != end; it.increment(ec)) {
        const std::string name = it->path().filename().string();
        if (!name.starts_with(temp_prefix) || !name.ends_with(temp_suffix)) continue;
        std::error_code tec;
        const auto when = it->last_write_time(tec);
        if (tec || when > cutoff) continue;
        if (::unlink(it->path().c_str()) == 0) ++removed;
    }
    return removed;
}

}  // namespace parley::media
