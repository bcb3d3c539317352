/* SPDX-License-Identifier: MIT */
/* main.c -- the wagate CLI: one binary, a table of subcommands. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "commands.h"

static int help_main(int argc, char **argv);

static const struct command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *usage;
} commands[] = {
    {"gateway", cmd_gateway_main,
     "gateway [run] [--listen IP:PORT]   run the gateway in the foreground\n"
     "  gateway status [--json]            is the gateway running? pid, version, uptime\n"
     "  gateway stop [--json]              stop the running gateway (SIGTERM, waits)"},
    {"status", cmd_status_main, "status [--json]                    gateway and channel status"},
    {"health", cmd_health_main,
     "health [--json]                    one-line verdict for scripts and watchdogs: exit 0\n"
     "                                     every channel connected, 1 one is not (which, since\n"
     "                                     when, last error), 3 the gateway is not running"},
    {"logs", cmd_logs_main,
     "logs [-f] [-n N] [--json]          the last N (50) lines of the gateway's log file\n"
     "                                     (<state>/logs/gateway.log or log.file); -f follows\n"
     "                                     it across rotations until Ctrl+C"},
    {"channels", cmd_channels_main,
     "channels status [--json]           state, since, last error, jid of every channel\n"
     "  channels login [--account ID] [--phone +NUMBER] [--timeout S]\n"
     "                                     link the account: shows the QR (refreshed as it\n"
     "                                     rotates), or with --phone a code to enter on that\n"
     "                                     phone, and waits until connected\n"
     "  channels logout [--account ID] [--yes]\n"
     "                                     unlink the account from the phone (asks first)\n"
     "  channels restart [--account ID]    restart a channel with its stored credentials"},
    {"message", cmd_message_main,
     "message send --to +15550002 --text TEXT [--reply-to ID] [--account ID] [--idempotency-key K] "
     "[--json]\n"
     "                                     queue a text message (sent once, even after outages)\n"
     "  message send --to +15550002 --image|--video|--audio|--ptt|--document|--sticker FILE\n"
     "       [--caption T] [--file-name N] [--mimetype M]   send a file (uploaded, then sent "
     "once)\n"
     "  message react ID EMOJI [--to +15550002] [--account ID]\n"
     "                                     react to a received message (\"\" removes it)\n"
     "  message status ID [--account ID] [--json]\n"
     "                                     an outgoing message's state: queued, sent (server\n"
     "                                     acknowledged), delivered, read, or failed and why"},
    {"pairing", cmd_pairing_main,
     "pairing approve CODE [--account ID] let the sender a pairing code was sent to reach the\n"
     "                                     agent (dm_policy \"pairing\")"},
    {"dashboard", cmd_dashboard_main,
     "dashboard [--no-open] [--json]     the web dashboard's address (token included); opens\n"
     "                                     a browser in a graphical session"},
    {"service", cmd_service_main,
     "service install [--no-enable] [--print] [--systemd|--launchd]\n"
     "                                     start the gateway with the user's service manager\n"
     "                                     (systemd user unit; launchd agent on macOS)\n"
     "  service uninstall|status [--json]  remove it / is it installed and running?"},
    {"proto", cmd_proto_main,
     "proto decode-node HEX              print a binary node as text\n"
     "  proto encode-node                  read node text on stdin, print its hex\n"
     "  proto connect [URL]                connect and verify the server's Noise certificate"},
    {"doctor", cmd_doctor_main,
     "doctor [--json] [--repair]         offline checks of the state dir (integrity, credentials,\n"
     "                                     modes, schema, lock); --repair: safe fixes, backup "
     "first"},
    {"version", cmd_version_main, "version [--json]                   print the version"},
    {"help", help_main, "help                               this text"},
};

static int help_main(int argc, char **argv)
{
    printf("usage: wagate [--config FILE] [--state-dir DIR] [--json] COMMAND ...\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        printf("  %s\n", commands[i].usage);
    printf("\nThe config defaults to $XDG_CONFIG_HOME/wagate/wagate.json, the state directory\n"
           "to $XDG_STATE_HOME/wagate. Exit status: 0 ok, 1 failure, 2 usage, 3 not running.\n"
           "With --json, output and errors are JSON on stdout: errors as\n"
           "{\"error\":{\"code\":...,\"message\":...,\"hint\":...}}.\n");
    return EXIT_OK;
}

int main(int argc, char **argv)
{
    /* Global options may come before the command: move past them. */
    int i = 1;
    while (i < argc && argv[i][0] == '-') {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return help_main(argc, argv);
        if (strcmp(argv[i], "--version") == 0) return cmd_version_main(1, argv);
        bool has_value = strcmp(argv[i], "--config") == 0 || strcmp(argv[i], "--state-dir") == 0;
        i += has_value ? 2 : 1;
    }
    if (i >= argc) return help_main(argc, argv);
    for (size_t k = 0; k < sizeof commands / sizeof commands[0]; k++) {
        if (strcmp(argv[i], commands[k].name) != 0) continue;
        /* Hand the command its name, its own arguments and the globals. */
        char *tmp = argv[i];
        memmove(argv + 2, argv + 1, (size_t)(i - 1) * sizeof *argv);
        argv[1] = tmp;
        return commands[k].fn(argc - 1, argv + 1);
    }
    fprintf(stderr, "wagate: unknown command '%s' (see 'wagate help')\n", argv[i]);
    return EXIT_USAGE;
}
