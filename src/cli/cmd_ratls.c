/* cmd_ratls.c: `ward ratls`. Placeholder until its component lands. */
#include "cli/commands.h"
#include "core/log.h"

int cmd_ratls(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	ward_error("'ward ratls' is not available in this build yet");
	return 1;
}
