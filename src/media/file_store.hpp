// The uploads folder on disk (API.md §7.1): temporary files written while an upload arrives,
// renamed into place only when complete; files opened for streaming out; removal. Every stored
// name is checked against media/paths.hpp before it becomes a path.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace parley::media {

// An open file for reading and its size; owns the descriptor.
class open_file {
public:
    open_file(int fd, std::uint64_t size) noexcept : fd_(fd), size_(size) {}
    ~open_file();
    open_file(open_file&& o) noexcept : fd_(o.release()), size_(o.size_) {}
    open_file& operator=(open_file&&) = delete;
    open_file(const open_file&) = delete;
    open_file& operator=(const open_file&) = delete;

    [[nodiscard]] int fd() const noexcept { return fd_; }
    [[nodiscard]] std::uint64_t size() const noexcept { return size_; }
    // Gives up ownership of the descriptor.
    int release() noexcept {
        const int fd = fd_;
        fd_ = -1;
        return fd;
    }

private:
    int fd_;
    std::uint64_t size_;
};

// A file being written in uploads/ under a hidden temporary name (".upload-<random>.part").
// Removed by the destructor unless committed. Not thread-safe (one upload, one thread at a time).
class temp_file {
public:
    temp_file(std::filesystem::path path, int fd) noexcept : path_(std::move(path)), fd_(fd) {}
    ~temp_file();
    temp_file(const temp_file&) = delete;
    temp_file& operator=(const temp_file&) = delete;

    // Appends bytes. Throws std::system_error on a write failure (disk full, I/O error).
    void write(std::string_view bytes);
    // Flushes the bytes to disk (fsync), closes the file, renames it to `final_path` (same
    // folder: atomic) and flushes the folder, so the file survives a power loss once this
    // returns. Throws std::system_error on failure (no file is then left behind).
    void commit(const std::filesystem::path& final_path);
    // Closes and removes the file now (idempotent, never throws).
    void discard() noexcept;

private:
    std::filesystem::path path_;
    int fd_;
    bool done_ = false;
};

class file_store {
public:
    // `media_root`: <data dir>/media. Creates <media_root>/uploads (mode 0700) when missing;
    // throws std::system_error when it cannot.
    explicit file_store(std::filesystem::path media_root);

    // A new temporary file in uploads/ (O_EXCL, mode 0600). Throws std::system_error.
    [[nodiscard]] std::unique_ptr<temp_file> create_temp() const;

    // The path of a stored name ("uploads/<uuid4>.<ext>"); nullopt unless the name is valid.
    [[nodiscard]] std::optional<std::filesystem::path> path_of(std::string_view stored_name) const;

    // Opens a stored file for reading (no symlinks followed); nullopt when the name is invalid or
    // the file is missing or not a regular file.
    [[nodiscard]] std::optional<open_file> open(std::string_view stored_name) const;

    // Removes a stored file; true when it is gone (also when it was already missing).
    bool remove(std::string_view stored_name) const noexcept;

    // Removes temporary files left by a crash, older than `age`; returns how many.
    std::size_t remove_stale_temps(std::chrono::seconds age) const noexcept;

    [[nodiscard]] const std::filesystem::path& uploads_dir() const noexcept { return uploads_; }

private:
    std::filesystem::path uploads_;
};

}  // namespace parley::media
