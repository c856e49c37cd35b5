/* vaultctl token: information about the token, and initialising one. */
#include "config.h"

#include "subcommands.h"

static const struct subcommand token_commands[] = {
    {"info", token_info_main, "label, manufacturer, flags, sessions, module"},
    {"init", token_init_main, "initialise a free slot's token and set its user PIN"},
};

int
token_main(struct vctl *c, int argc, char *argv[])
{
	return subcommand_dispatch(c, token_commands, PV_NELEM(token_commands), "token", argc - 1, argv + 1);
}
