/*
 * commands.h: the subcommands of `ward`.
 *
 * Contract: each cmd_* receives argv starting at the subcommand's own name
 * (argv[0] == "run", ...), prints its own --help, and returns the process
 * exit status: 0 success, 1 failure (message already printed), 2 usage error.
 */
#ifndef WARD_CLI_COMMANDS_H
#define WARD_CLI_COMMANDS_H

int cmd_run(int argc, char **argv);
int cmd_measure(int argc, char **argv);
int cmd_engine_image(int argc, char **argv);
int cmd_fs(int argc, char **argv);
int cmd_evidence(int argc, char **argv);
int cmd_ratls(int argc, char **argv);
int cmd_session(int argc, char **argv);

/* True when argv[1..] holds -h or --help before any "--". */
int cli_wants_help(int argc, char **argv);

#endif
