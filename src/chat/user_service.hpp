// Users as other users see them (API.md §3), scoped by §1.2 visibility.
#pragma once

#include "core/error.hpp"
#include "model/records.hpp"
#include "store/store.hpp"

#include <vector>

namespace parley::chat {

class user_service {
public:
    explicit user_service(store::store& store) : store_(store) {}

    // GET /users/: the caller and everyone sharing a team; staff: all users.
    [[nodiscard]] std::vector<model::user_ref> list(const model::user& caller);
    // GET /users/{id}/: 404 unless visible.
    [[nodiscard]] core::result<model::user_ref> get(const model::user& caller, model::id target);
    // GET /users/in_team/?team_id=: 404 unless the team is visible.
    [[nodiscard]] core::result<std::vector<model::user_ref>> in_team(const model::user& caller,
                                                                     model::id team);
    // GET /users/in_channel/?channel_id=: 404 unless the channel is visible.
    [[nodiscard]] core::result<std::vector<model::user_ref>> in_channel(const model::user& caller,
                                                                        model::id channel);
    // GET /users/interacted/?team_id=: DM partners still in the team.
    [[nodiscard]] core::result<std::vector<model::dm_partner>> interacted(const model::user& caller,
                                                                          model::id team);

private:
    store::store& store_;
};

}  // namespace parley::chat
