// The scenarios of bench/README.md, one entry point each; client.cpp picks one by name.
#pragma once

#include "fixtures.hpp"

namespace parley::bench {

task<void> run_s1(run_ctx& ctx);            // s1_rest.cpp: REST mix on keep-alive connections
task<void> run_channel_load(run_ctx& ctx);  // channel_load.cpp: S2, S3, S6, S7
task<void> run_s4(run_ctx& ctx);            // s4_idle.cpp: idle sockets
task<void> run_s5(run_ctx& ctx);            // s5_connect.cpp: connect storm
task<void> run_s8(run_ctx& ctx);            // s8_teams.cpp: GET /teams/ of a 100-member team
task<void> run_s9(run_ctx& ctx);            // s9_history.cpp: a page of channel history
task<void> run_s10(run_ctx& ctx);           // s10_connect_team.cpp: connect, get_team_members
task<void> run_s11(run_ctx& ctx);           // s11_post.cpp: POST /api/chat/messages/

}  // namespace parley::bench
