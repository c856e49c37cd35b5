#include "config.h"

#include <string.h>

#include "base/jsontext.h"

int
pv_json_has_nul_escape(const uint8_t *text, size_t len)
{
	size_t i;

	for (i = 0; i + 1 < len; i++) {
		if (text[i] != '\\')
			continue;
		if ((text[i + 1] == 'u' || text[i + 1] == 'U') && len - i >= 6 &&
		    memcmp(text + i + 2, "0000", 4) == 0)
			return 1;
		i++; /* the escaped character cannot start another escape */
	}
	return 0;
}
