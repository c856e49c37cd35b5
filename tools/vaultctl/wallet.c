/* vaultctl wallet: addresses and signatures for Solana and EVM chains. */
#include "config.h"

#include "subcommands.h"

static const struct subcommand wallet_commands[] = {
    {"address", wallet_address_main, "the key's address on a chain"},
    {"sign-tx", wallet_sign_tx_main, "sign a Solana or EVM transaction"},
    {"sign-message", wallet_sign_message_main, "sign an off-chain message (Solana, EIP-191)"},
    {"sign-digest", wallet_sign_digest_main, "sign a 32-byte digest (EVM)"},
    {"sign-typed-data", wallet_sign_typed_data_main, "sign EIP-712 typed data (EVM)"},
};

int
wallet_main(struct vctl *c, int argc, char *argv[])
{
	return subcommand_dispatch(c, wallet_commands, PV_NELEM(wallet_commands), "wallet", argc - 1,
				   argv + 1);
}
