/* cmd_evidence.c: `ward evidence`. Placeholder until its component lands. */
#include "cli/commands.h"
#include "core/log.h"

int cmd_evidence(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	ward_error("'ward evidence' is not available in this build yet");
	return 1;
}
