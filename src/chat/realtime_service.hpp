// Queries of the real-time transport (API.md §8.7, §8.9, §2.3): the groups a new socket joins,
// which open sockets lost their token or user, and presence's last_seen.
#pragma once

#include "core/error.hpp"
#include "core/time.hpp"
#include "model/records.hpp"
#include "store/store.hpp"

#include <optional>
#include <string>
#include <vector>

namespace parley::chat {

// What a new socket subscribes to (§8.7): by membership, without the staff bypass.
struct subscription_set {
    model::user user;
    std::vector<model::id> teams;     // the user's teams
    std::vector<model::id> channels;  // channels of those teams the user is a member of
};

// What the revocation sweep decides on (§2.3, §8.2).
struct revoked_set {
    std::vector<std::string> keys;         // blacklisted jtis and family keys
    std::vector<store::user_state> users;  // the users that still exist, by id
};

// A team member and when they were last seen (§8.9 user_presences).
struct member_seen {
    model::user_ref user;
    std::optional<core::timestamp> last_seen;
};

class realtime_service {
public:
    explicit realtime_service(store::store& store) : store_(store) {}

    // The user and their groups; nullopt when the user no longer exists. One read transaction.
    [[nodiscard]] std::optional<subscription_set> subscriptions(model::id user);

    // The user's team ids (presence events go to each, §8.9).
    [[nodiscard]] std::vector<model::id> team_ids(model::id user);

    // One read transaction for a whole sweep, whatever the number of sockets: which of `keys`
    // (jtis, family keys) are blacklisted, and the state of `users`.
    [[nodiscard]] revoked_set revoked_among(const std::vector<std::string>& keys,
                                            const std::vector<model::id>& users);

    // Presence transitions (§8.9): the time of going online, or of the last socket closing.
    void set_last_seen(model::id user, core::timestamp at);

    // Every current member of a team the caller can see (§1.2), by id, with last_seen;
    // not_found otherwise.
    [[nodiscard]] core::result<std::vector<member_seen>> team_last_seen(const model::user& caller,
                                                                        model::id team);

private:
    store::store& store_;
};

}  // namespace parley::chat
