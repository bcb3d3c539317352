/* SPDX-License-Identifier: MIT */
/* commands.h -- entry points of the CLI's subcommands (cli/main.c dispatches).
 * Each returns the process exit status. */
#pragma once

int cmd_gateway_main(int argc, char **argv);
int cmd_status_main(int argc, char **argv);
int cmd_version_main(int argc, char **argv);
/* wagate proto decode-node HEX | encode-node  (cli/cmd_proto.c) */
int cmd_proto_main(int argc, char **argv);
/* wagate proto connect [URL]  (cli/cmd_connect.c) */
int cmd_connect_main(int argc, char **argv);
/* wagate channels status|login|logout|restart [--account ID]  (cli/cmd_channels.c) */
int cmd_channels_main(int argc, char **argv);
/* wagate message send --to N --text T [--account ID] [--idempotency-key K],
 * wagate message status ID [--account ID]  (cli/cmd_channels.c) */
int cmd_message_main(int argc, char **argv);
/* wagate pairing approve CODE [--account ID]  (cli/cmd_channels.c) */
int cmd_pairing_main(int argc, char **argv);
/* wagate service install|uninstall|status  (cli/cmd_service.c) */
int cmd_service_main(int argc, char **argv);
/* wagate dashboard [--no-open]  (cli/cmd_dashboard.c) */
int cmd_dashboard_main(int argc, char **argv);
/* wagate doctor [--json] [--repair]: offline checks of the state dir  (cli/cmd_doctor.c) */
int cmd_doctor_main(int argc, char **argv);
/* wagate logs [-f] [-n N] [--json]: the gateway's log file  (cli/cmd_logs.c) */
int cmd_logs_main(int argc, char **argv);
/* wagate health [--json]: one-line verdict, exit 0/1/3  (cli/cmd_health.c) */
int cmd_health_main(int argc, char **argv);
