/* cmd_session.c: `ward session`. Placeholder until its component lands. */
#include "cli/commands.h"
#include "core/log.h"

int cmd_session(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	ward_error("'ward session' is not available in this build yet");
	return 1;
}
