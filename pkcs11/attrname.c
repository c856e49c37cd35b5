/* Names of CKA_ attributes and words for CKR_ codes, for error messages
 * (no raw numbers in what people read). */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "base/defs.h"
#include "pkcs11/internal.h"
#include "pkcs11/token.h"

struct attr_name {
	CK_ATTRIBUTE_TYPE type;
	const char *name;
};

#define A(x)                                                                                                 \
	{                                                                                                    \
		x, #x                                                                                        \
	}
static const struct attr_name attr_names[] = {
    A(CKA_CLASS),
    A(CKA_TOKEN),
    A(CKA_PRIVATE),
    A(CKA_LABEL),
    A(CKA_APPLICATION),
    A(CKA_VALUE),
    A(CKA_OBJECT_ID),
    A(CKA_CERTIFICATE_TYPE),
    A(CKA_ISSUER),
    A(CKA_SERIAL_NUMBER),
    A(CKA_TRUSTED),
    A(CKA_KEY_TYPE),
    A(CKA_SUBJECT),
    A(CKA_ID),
    A(CKA_SENSITIVE),
    A(CKA_ENCRYPT),
    A(CKA_DECRYPT),
    A(CKA_WRAP),
    A(CKA_UNWRAP),
    A(CKA_SIGN),
    A(CKA_SIGN_RECOVER),
    A(CKA_VERIFY),
    A(CKA_VERIFY_RECOVER),
    A(CKA_DERIVE),
    A(CKA_START_DATE),
    A(CKA_END_DATE),
    A(CKA_MODULUS),
    A(CKA_MODULUS_BITS),
    A(CKA_PUBLIC_EXPONENT),
    A(CKA_PRIVATE_EXPONENT),
    A(CKA_PRIME_1),
    A(CKA_PRIME_2),
    A(CKA_EXPONENT_1),
    A(CKA_EXPONENT_2),
    A(CKA_COEFFICIENT),
    A(CKA_PUBLIC_KEY_INFO),
    A(CKA_VALUE_LEN),
    A(CKA_EXTRACTABLE),
    A(CKA_LOCAL),
    A(CKA_NEVER_EXTRACTABLE),
    A(CKA_ALWAYS_SENSITIVE),
    A(CKA_KEY_GEN_MECHANISM),
    A(CKA_MODIFIABLE),
    A(CKA_COPYABLE),
    A(CKA_DESTROYABLE),
    A(CKA_EC_PARAMS),
    A(CKA_EC_POINT),
    A(CKA_ALWAYS_AUTHENTICATE),
    A(CKA_WRAP_WITH_TRUSTED),
    A(CKA_ALLOWED_MECHANISMS),
};
#undef A

const char *
p11_attr_name(CK_ATTRIBUTE_TYPE type, char *buf, size_t buflen)
{
	for (size_t i = 0; i < PV_NELEM(attr_names); i++)
		if (attr_names[i].type == type)
			return attr_names[i].name;
	/* no hex: the rule for error texts (docs/cli.md "Errors") */
	snprintf(buf, buflen, "an attribute p11vault does not know (number %lu)", (unsigned long)type);
	return buf;
}

const char *
p11_rv_text(CK_RV rv, char *buf, size_t buflen)
{
	const char *name = p11_rv_name(rv), *p;
	size_t n = 0;

	if (buflen == 0)
		return "";
	if (rv >= CKR_VENDOR_DEFINED) {
		snprintf(buf, buflen, "an error code of the module's own (CKR_VENDOR_DEFINED+%lu)",
			 (unsigned long)(rv - CKR_VENDOR_DEFINED));
		return buf;
	}
	if (strncmp(name, "CKR_0x", 6) == 0) {
		snprintf(buf, buflen, "an error code p11vault does not know (number %lu)", (unsigned long)rv);
		return buf;
	}
	/* the code's name in words ("CKR_PIN_INCORRECT": "pin incorrect"),
	 * then the name itself */
	for (p = name + 4; *p != '\0' && n + 1 < buflen; p++)
		buf[n++] = *p == '_' ? ' ' : (char)tolower((unsigned char)*p);
	buf[n] = '\0';
	snprintf(buf + n, buflen - n, " (%s)", name);
	return buf;
}

/* Why the token gave no value for an attribute, in words (no raw numbers). */
void
p11_attr_unavailable(CK_ATTRIBUTE_TYPE type, CK_RV rv)
{
	char buf[96], rt[128];
	const char *an = p11_attr_name(type, buf, sizeof(buf));

	if (rv == CKR_ATTRIBUTE_TYPE_INVALID)
		pv_err_set_detail("C_GetAttributeValue: the object has no %s (%s)", an,
				  p11_rv_text(rv, rt, sizeof(rt)));
	else if (rv == CKR_ATTRIBUTE_SENSITIVE)
		pv_err_set_detail("C_GetAttributeValue: the token does not reveal %s (%s)", an,
				  p11_rv_text(rv, rt, sizeof(rt)));
	else
		pv_err_set_detail(
		    "C_GetAttributeValue: the token does not give %s (its value is unavailable)", an);
}
