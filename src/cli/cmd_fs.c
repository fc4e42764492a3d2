/* cmd_fs.c: `ward fs`. Placeholder until its component lands. */
#include "cli/commands.h"
#include "core/log.h"

int cmd_fs(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	ward_error("'ward fs' is not available in this build yet");
	return 1;
}
