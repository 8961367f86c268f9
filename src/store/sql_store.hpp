// The one store::store implementation over a pool of sql::connection; backends supply the
// connection factory and their migrations.
#pragma once

#include "store/pool.hpp"
#include "store/sql.hpp"
#include "store/store.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <string>
#include <vector>

namespace parley::store::sql {

class sql_store final : public store {
public:
    // migrations: numbered ascending, each applied once in its own transaction.
    sql_store(std::string backend, pool::factory make, int pool_size,
              std::vector<migration> migrations);

    [[nodiscard]] std::string_view backend() const noexcept override { return backend_; }
    void migrate() override;
    [[nodiscard]] std::vector<std::string> pending_migrations() override;
    [[nodiscard]] bool ping() noexcept override;
    void run(bool write, const std::function<bool(tx&)>& fn) override;
    void run_grouped(const std::function<bool(tx&)>& fn,
                     const std::function<void()>& after_commit) override;
    [[nodiscard]] stats_snapshot stats() const noexcept override;

private:
    // A leased connection inside an open transaction.
    pool::lease begin(bool write);
    // Runs fn(connection&) in a transaction, committing unless it throws.
    template <class F>
    void in_tx(bool write, F&& fn);
    std::vector<std::int64_t> applied_versions(connection& c);

    // Group commit (run_grouped): callers waiting for the next group, and whether a leader is
    // committing one.
    struct group_request {
        const std::function<bool(tx&)>* fn;
        const std::function<void()>* after_commit;
        std::exception_ptr error;
        bool done = false;
    };
    void commit_group(const std::vector<group_request*>& group);
    std::mutex group_mutex_;
    std::condition_variable group_done_;
    std::vector<group_request*> group_queue_;
    bool group_leader_ = false;
    std::chrono::steady_clock::time_point last_group_end_;

    std::string backend_;
    pool pool_;
    std::vector<migration> migrations_;
    std::atomic<std::uint64_t> errors_{0};
};

}  // namespace parley::store::sql
