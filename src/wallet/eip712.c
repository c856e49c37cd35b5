#include "config.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <openssl/bn.h>

#include "base/json.h"
#include "base/jsontext.h"
#include "core/b64.h"
#include "core/keccak.h"
#include "wallet/eip712.h"
#include "wallet/evm.h"

#define DOMAIN_TYPE "EIP712Domain"

/* Decimal digits of 2^256 - 1, hex digits of 256 bits. */
#define DEC_DIGITS_MAX 78
#define HEX_DIGITS_MAX 64

/* Room for a path such as message.orders[3].items[0].token in details. */
#define PATH_MAX_LEN 192

enum kind { K_STRUCT, K_UINT, K_INT, K_ADDRESS, K_BOOL, K_BYTESN, K_BYTES, K_STRING };

/* A field type: an atomic or struct base and array dimensions, dims[0]
 * innermost ("T[2][]" is a dynamic array of T[2]: dims {2, 0}). */
struct ftype {
	enum kind kind;
	unsigned width; /* bits of uintN/intN, bytes of bytesN */
	size_t st;      /* K_STRUCT: index in e712.types */
	unsigned ndims;
	size_t dims[PV_EIP712_MAX_DEPTH]; /* 0: dynamic length */
};

struct field {
	const char *name;
	const char *type; /* as written: it goes into encodeType */
	struct ftype ft;
};

struct stype {
	const char *name;
	struct field *fields;
	size_t nfields;
	int state; /* graph walk: 0 new, 1 on the path, 2 done */
	unsigned height;
	int hashed;
	uint8_t type_hash[32];
};

struct e712 {
	const cJSON *doc; /* borrowed */
	struct stype types[PV_EIP712_MAX_TYPES];
	size_t ntypes;
	size_t domain; /* index of EIP712Domain */
	size_t primary;
	char path[PATH_MAX_LEN];
	size_t pathlen;
};

/* The EIP712Domain fields EIP-712 defines, in the order ethers writes them. */
static const struct {
	const char *name, *type;
} domain_fields[] = {
    {"name", "string"},  {"version", "string"}, {"chainId", "uint256"}, {"verifyingContract", "address"},
    {"salt", "bytes32"},
};

static pv_err bad(const struct e712 *e, const char *fmt, ...) PV_PRINTF(2, 3);

static pv_err
bad(const struct e712 *e, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (e != NULL && e->pathlen > 0)
		pv_err_set_detail("eip712: %s: %s", e->path, msg);
	else
		pv_err_set_detail("eip712: %s", msg);
	return PV_ERR_BAD_INPUT;
}

/* Append to the path shown in details; returns the length to pop back to.
 * A path that would not fit ends in "..." and stays as it is. */
static size_t path_push(struct e712 *e, const char *fmt, ...) PV_PRINTF(2, 3);

static size_t
path_push(struct e712 *e, const char *fmt, ...)
{
	size_t old = e->pathlen;
	va_list ap;
	int n;

	if (old >= sizeof(e->path) - 4)
		return old;
	va_start(ap, fmt);
	n = vsnprintf(e->path + old, sizeof(e->path) - old, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(e->path) - old - 4) {
		memcpy(e->path + sizeof(e->path) - 4, "...", 4);
		e->pathlen = sizeof(e->path) - 1;
		return old;
	}
	e->pathlen = old + (size_t)n;
	return old;
}

static void
path_pop(struct e712 *e, size_t len)
{
	e->pathlen = len;
	e->path[len] = '\0';
}

/* [A-Za-z_$][A-Za-z0-9_$]*, at most PV_EIP712_NAME_MAX bytes. */
static int
is_ident(const char *s)
{
	size_t i, n = strnlen(s, PV_EIP712_NAME_MAX + 1);

	if (n == 0 || n > PV_EIP712_NAME_MAX || (s[0] >= '0' && s[0] <= '9'))
		return 0;
	for (i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '$'))
			return 0;
	}
	return 1;
}

/* 1..3 decimal digits without a leading zero; -1 otherwise. */
static int
small_number(const char *d, size_t n)
{
	int v = 0;
	size_t i;

	if (n == 0 || n > 3 || d[0] == '0')
		return -1;
	for (i = 0; i < n; i++) {
		if (d[i] < '0' || d[i] > '9')
			return -1;
		v = v * 10 + (d[i] - '0');
	}
	return v;
}

/* Whether all n bytes are decimal digits (1 for none). */
static int
all_digits(const char *d, size_t n)
{
	size_t i;

	for (i = 0; i < n && d[i] >= '0' && d[i] <= '9'; i++)
		;
	return i == n;
}

/*
 * Whether base (n bytes) names an atomic type: 1 and *ft filled; 0 when it
 * is no atomic type's name; -1 when it is one with a bad width ("uint7",
 * "bytes0", "bytes33", "int": ethers would read "int" as int256, but it
 * hashes as written).
 */
static int
atomic_type(const char *base, size_t n, struct ftype *ft)
{
	static const struct {
		const char *name;
		enum kind kind;
	} plain[] = {{"address", K_ADDRESS}, {"bool", K_BOOL}, {"bytes", K_BYTES}, {"string", K_STRING}};
	size_t i, p;
	int w;

	for (i = 0; i < PV_NELEM(plain); i++) {
		if (strlen(plain[i].name) == n && memcmp(base, plain[i].name, n) == 0) {
			ft->kind = plain[i].kind;
			ft->width = 0;
			return 1;
		}
	}
	if (n > 5 && memcmp(base, "bytes", 5) == 0 && all_digits(base + 5, n - 5)) {
		w = small_number(base + 5, n - 5);
		if (w < 1 || w > 32)
			return -1;
		ft->kind = K_BYTESN;
		ft->width = (unsigned)w;
		return 1;
	}
	if (n >= 4 && memcmp(base, "uint", 4) == 0 && all_digits(base + 4, n - 4)) {
		ft->kind = K_UINT;
		p = 4;
	} else if (n >= 3 && memcmp(base, "int", 3) == 0 && all_digits(base + 3, n - 3)) {
		ft->kind = K_INT;
		p = 3;
	} else {
		return 0;
	}
	/* "uint"/"int" without a width would hash as written, not as uint256 */
	w = small_number(base + p, n - p);
	if (w < 8 || w > 256 || w % 8 != 0)
		return -1;
	ft->width = (unsigned)w;
	return 1;
}

static int
find_type(const struct e712 *e, const char *name, size_t n, size_t *idx)
{
	size_t i;

	for (i = 0; i < e->ntypes; i++) {
		if (strlen(e->types[i].name) == n && memcmp(e->types[i].name, name, n) == 0) {
			*idx = i;
			return 1;
		}
	}
	return 0;
}

/* Parse a field's type: a base then [] or [k] dimensions. */
static pv_err
parse_ftype(struct e712 *e, const char *type, struct ftype *ft)
{
	const char *br = strchr(type, '[');
	size_t n = br != NULL ? (size_t)(br - type) : strlen(type);
	const char *p;
	char base[PV_EIP712_NAME_MAX + 1];
	size_t k, d;
	int a;

	memset(ft, 0, sizeof(*ft));
	if (n == 0 || n > PV_EIP712_NAME_MAX)
		return bad(e, "a type is empty or longer than %d bytes", PV_EIP712_NAME_MAX);
	memcpy(base, type, n);
	base[n] = '\0';
	if (!is_ident(base))
		return bad(e, "a type is not an identifier with optional [] or [k] suffixes");
	if ((a = atomic_type(base, n, ft)) < 0)
		return bad(
		    e, "type %s is not valid (uint8..uint256, int8..int256 in steps of 8, bytes1..bytes32)",
		    base);
	if (a == 0) {
		if (!find_type(e, base, n, &ft->st))
			return bad(e, "unknown type %s", base);
		if (ft->st == e->domain)
			return bad(e, "%s cannot be the type of a field", DOMAIN_TYPE);
		ft->kind = K_STRUCT;
	}
	for (p = type + n; *p != '\0';) {
		if (*p != '[')
			return bad(e, "type %s: an array suffix is [] or [k]", base);
		for (d = 1; p[d] >= '0' && p[d] <= '9'; d++)
			;
		if (p[d] != ']')
			return bad(e, "type %s: an array suffix is [] or [k]", base);
		k = 0;
		if (d > 1) {
			/* 1..PV_EIP712_MAX: each element takes at least a byte */
			if (p[1] == '0' || d - 1 > 6)
				return bad(e,
					   "type %s: a fixed array length is 1 to %d without leading zeros",
					   base, PV_EIP712_MAX);
			for (k = 0, n = 1; n < d; n++)
				k = k * 10 + (size_t)(p[n] - '0');
			if (k > PV_EIP712_MAX)
				return bad(e,
					   "type %s: a fixed array length is 1 to %d without leading zeros",
					   base, PV_EIP712_MAX);
		}
		if (ft->ndims == PV_EIP712_MAX_DEPTH)
			return bad(e, "type %s has more than %d array dimensions", base, PV_EIP712_MAX_DEPTH);
		ft->dims[ft->ndims++] = k;
		p += d + 1;
	}
	return PV_OK;
}

/* Names and field lists of "types"; the fields' types are parsed after
 * every name is known. */
static pv_err
load_type_names(struct e712 *e, const cJSON *types)
{
	const cJSON *t;
	struct ftype ft;
	int found = 0;

	if (!cJSON_IsObject(types))
		return bad(e, "types is not an object");
	for (t = types->child; t != NULL; t = t->next) {
		struct stype *st = &e->types[e->ntypes];

		if (e->ntypes == PV_EIP712_MAX_TYPES)
			return bad(e, "more than %d types", PV_EIP712_MAX_TYPES);
		if (!is_ident(t->string))
			return bad(e, "a type name is not an identifier of at most %d bytes",
				   PV_EIP712_NAME_MAX);
		if (atomic_type(t->string, strlen(t->string), &ft) != 0)
			return bad(e, "type name %s is an atomic type's", t->string);
		if (!cJSON_IsArray(t))
			return bad(e, "types.%s is not an array of fields", t->string);
		st->name = t->string;
		st->nfields = (size_t)cJSON_GetArraySize(t);
		if (st->nfields > PV_EIP712_MAX_FIELDS)
			return bad(e, "types.%s has more than %d fields", t->string, PV_EIP712_MAX_FIELDS);
		if (strcmp(t->string, DOMAIN_TYPE) == 0) {
			e->domain = e->ntypes;
			found = 1;
		}
		e->ntypes++;
	}
	if (!found)
		return bad(e, "types has no %s", DOMAIN_TYPE);
	return PV_OK;
}

static pv_err
load_fields(struct e712 *e, size_t ti, const cJSON *arr)
{
	struct stype *st = &e->types[ti];
	const cJSON *f, *name, *type;
	size_t i = 0, j, at;
	pv_err r = PV_OK;

	if (st->nfields > 0 && (st->fields = calloc(st->nfields, sizeof(*st->fields))) == NULL)
		return PV_ERR_NOMEM;
	for (f = arr->child; f != NULL; f = f->next, i++) {
		at = path_push(e, "types.%s[%zu]", st->name, i);
		name = cJSON_GetObjectItemCaseSensitive(f, "name");
		type = cJSON_GetObjectItemCaseSensitive(f, "type");
		if (!cJSON_IsObject(f) || cJSON_GetArraySize(f) != 2 || !cJSON_IsString(name) ||
		    !cJSON_IsString(type)) {
			r = bad(e, "a field is {\"name\": \"...\", \"type\": \"...\"} and nothing else");
			goto out;
		}
		if (!is_ident(name->valuestring)) {
			r = bad(e, "a field name is not an identifier of at most %d bytes",
				PV_EIP712_NAME_MAX);
			goto out;
		}
		for (j = 0; j < i; j++) {
			if (strcmp(st->fields[j].name, name->valuestring) == 0) {
				r = bad(e, "field %s appears twice", name->valuestring);
				goto out;
			}
		}
		st->fields[i].name = name->valuestring;
		st->fields[i].type = type->valuestring;
		if ((r = parse_ftype(e, type->valuestring, &st->fields[i].ft)) != PV_OK)
			goto out;
		path_pop(e, at);
	}
out:
	return r;
}

/* EIP712Domain: a subset of the five fields EIP-712 defines, with their
 * types, in their order (what ethers hashes: other orders would sign a
 * domain separator no contract computes). */
static pv_err
check_domain_type(struct e712 *e)
{
	const struct stype *st = &e->types[e->domain];
	size_t i, next = 0, j;

	for (i = 0; i < st->nfields; i++) {
		for (j = next; j < PV_NELEM(domain_fields); j++) {
			if (strcmp(st->fields[i].name, domain_fields[j].name) == 0)
				break;
		}
		if (j == PV_NELEM(domain_fields))
			return bad(
			    e,
			    "types.%s: field %s is not one of name, version, chainId, verifyingContract, "
			    "salt (in that order)",
			    DOMAIN_TYPE, st->fields[i].name);
		if (strcmp(st->fields[i].type, domain_fields[j].type) != 0)
			return bad(e, "types.%s: field %s must have type %s", DOMAIN_TYPE, st->fields[i].name,
				   domain_fields[j].type);
		next = j + 1;
	}
	return PV_OK;
}

/* Depth-first walk of the struct references: no cycle, bounded height
 * (struct levels plus array dimensions on the deepest path). */
static pv_err
walk(struct e712 *e, size_t ti, unsigned depth)
{
	struct stype *st = &e->types[ti];
	const struct ftype *ft;
	unsigned h = 1, fh;
	size_t i;
	pv_err r;

	if (st->state == 2)
		return PV_OK;
	if (st->state == 1)
		return bad(e, "type %s refers to itself (directly or through other types)", st->name);
	if (depth > PV_EIP712_MAX_DEPTH)
		return bad(e, "types nest deeper than %d levels", PV_EIP712_MAX_DEPTH);
	st->state = 1;
	for (i = 0; i < st->nfields; i++) {
		ft = &st->fields[i].ft;
		fh = ft->ndims;
		if (ft->kind == K_STRUCT) {
			if ((r = walk(e, ft->st, depth + 1)) != PV_OK)
				return r;
			fh += e->types[ft->st].height;
		}
		if (fh + 1 > h)
			h = fh + 1;
	}
	if (h > PV_EIP712_MAX_DEPTH)
		return bad(e, "type %s nests deeper than %d levels (structs and array dimensions)", st->name,
			   PV_EIP712_MAX_DEPTH);
	st->height = h;
	st->state = 2;
	return PV_OK;
}

static pv_err
load_types(struct e712 *e, const cJSON *types)
{
	const cJSON *t;
	size_t i;
	pv_err r;

	if ((r = load_type_names(e, types)) != PV_OK)
		return r;
	for (i = 0, t = types->child; t != NULL; t = t->next, i++) {
		if ((r = load_fields(e, i, t)) != PV_OK)
			return r;
	}
	if ((r = check_domain_type(e)) != PV_OK)
		return r;
	for (i = 0; i < e->ntypes; i++) {
		if ((r = walk(e, i, 1)) != PV_OK)
			return r;
	}
	return PV_OK;
}

static int
cmp_type_names(const void *a, const void *b)
{
	return strcmp((*(const struct stype *const *)a)->name, (*(const struct stype *const *)b)->name);
}

/* "Name(type name,...)" appended at *pos (the room was counted). */
static void
put_def(const struct stype *st, char *out, size_t *pos)
{
	size_t i, n;

#define PUT(s)                                                                                               \
	do {                                                                                                 \
		n = strlen(s);                                                                               \
		memcpy(out + *pos, (s), n);                                                                  \
		*pos += n;                                                                                   \
	} while (0)
	PUT(st->name);
	PUT("(");
	for (i = 0; i < st->nfields; i++) {
		if (i > 0)
			PUT(",");
		PUT(st->fields[i].type);
		PUT(" ");
		PUT(st->fields[i].name);
	}
	PUT(")");
#undef PUT
}

static size_t
def_len(const struct stype *st)
{
	size_t i, n = strlen(st->name) + 2;

	for (i = 0; i < st->nfields; i++)
		n += strlen(st->fields[i].type) + 1 + strlen(st->fields[i].name) + (i > 0);
	return n;
}

/* encodeType(ti): the type, then every struct type it reaches, by name. */
static pv_err
encode_type(const struct e712 *e, size_t ti, char **out)
{
	const struct stype *list[PV_EIP712_MAX_TYPES];
	size_t stack[PV_EIP712_MAX_TYPES];
	char seen[PV_EIP712_MAX_TYPES];
	size_t nlist = 0, nstack = 0, i, t, len = 1, pos = 0;
	const struct stype *st;
	char *s;

	*out = NULL;
	memset(seen, 0, sizeof(seen));
	seen[ti] = 1;
	stack[nstack++] = ti;
	while (nstack > 0) {
		st = &e->types[stack[--nstack]];
		for (i = 0; i < st->nfields; i++) {
			if (st->fields[i].ft.kind != K_STRUCT || seen[t = st->fields[i].ft.st])
				continue;
			seen[t] = 1;
			stack[nstack++] = t;
			list[nlist++] = &e->types[t];
		}
	}
	qsort(list, nlist, sizeof(list[0]), cmp_type_names);
	len += def_len(&e->types[ti]);
	for (i = 0; i < nlist; i++)
		len += def_len(list[i]);
	if ((s = malloc(len)) == NULL)
		return PV_ERR_NOMEM;
	put_def(&e->types[ti], s, &pos);
	for (i = 0; i < nlist; i++)
		put_def(list[i], s, &pos);
	s[pos] = '\0';
	*out = s;
	return PV_OK;
}

static pv_err
type_hash(struct e712 *e, size_t ti, const uint8_t **out)
{
	struct stype *st = &e->types[ti];
	char *s = NULL;
	pv_err r;

	if (!st->hashed) {
		if ((r = encode_type(e, ti, &s)) != PV_OK)
			return r;
		pv_keccak256((const uint8_t *)s, strlen(s), st->type_hash);
		free(s);
		st->hashed = 1;
	}
	*out = st->type_hash;
	return PV_OK;
}

/* A BIGNUM from a JSON integer: a number up to 2^53 - 1 in magnitude, or a
 * string of decimal digits or 0x and hex digits, optionally after a '-'. */
static pv_err
get_integer(struct e712 *e, const cJSON *v, BIGNUM **bn)
{
	const char *s, *p;
	size_t n, i;
	int neg = 0, hex;
	double d;

	*bn = NULL;
	if (cJSON_IsNumber(v)) {
		d = v->valuedouble;
		if (d != floor(d) || fabs(d) > (double)PV_JSON_INT_MAX)
			return bad(e, "a JSON number must be an integer of magnitude at most 2^53-1 (write "
				      "larger values as decimal or 0x strings)");
		if ((*bn = BN_new()) == NULL || !BN_set_word(*bn, (BN_ULONG)fabs(d))) {
			BN_free(*bn);
			*bn = NULL;
			return PV_ERR_NOMEM;
		}
		BN_set_negative(*bn, d < 0);
		return PV_OK;
	}
	if (!cJSON_IsString(v))
		return bad(e, "an integer is a JSON number or a string");
	s = v->valuestring;
	if (s[0] == '-')
		neg = 1;
	p = s + neg;
	hex = p[0] == '0' && p[1] == 'x';
	p += hex ? 2 : 0;
	n = strlen(p);
	for (i = 0; i < n; i++) {
		char c = p[i];

		if (!((c >= '0' && c <= '9') || (hex && ((c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))))
			break;
	}
	if (n == 0 || i != n || n > (hex ? HEX_DIGITS_MAX : DEC_DIGITS_MAX) || (!hex && n > 1 && p[0] == '0'))
		return bad(e, "an integer string is decimal digits (no leading zero) or 0x and 1 to 64 hex "
			      "digits, optionally after '-'");
	if ((hex ? BN_hex2bn(bn, p) : BN_dec2bn(bn, p)) != (int)n) {
		BN_free(*bn);
		*bn = NULL;
		return PV_ERR_NOMEM;
	}
	BN_set_negative(*bn, neg);
	return PV_OK;
}

/* uintN / intN: range-checked, big-endian, two's complement if negative. */
static pv_err
enc_integer(struct e712 *e, const struct ftype *ft, const cJSON *v, uint8_t out[32])
{
	BIGNUM *bn = NULL, *lim = NULL;
	int neg, over;
	pv_err r;

	if ((r = get_integer(e, v, &bn)) != PV_OK)
		goto out;
	r = PV_ERR_NOMEM;
	if ((lim = BN_new()) == NULL)
		goto out;
	neg = BN_is_negative(bn);
	BN_set_negative(bn, 0);
	if (ft->kind == K_UINT) {
		over = neg || BN_num_bits(bn) > (int)ft->width;
	} else {
		/* -2^(N-1) .. 2^(N-1) - 1 */
		if (!BN_set_bit(lim, (int)ft->width - 1))
			goto out;
		over = neg ? BN_cmp(bn, lim) > 0 : BN_cmp(bn, lim) >= 0;
	}
	if (over) {
		r = bad(e, "value out of range for %s%u", ft->kind == K_UINT ? "uint" : "int", ft->width);
		goto out;
	}
	if (neg) {
		/* 2^256 - |v| */
		BN_zero(lim);
		if (!BN_set_bit(lim, 256) || !BN_sub(bn, lim, bn))
			goto out;
	}
	if (BN_bn2binpad(bn, out, 32) != 32)
		goto out;
	r = PV_OK;
out:
	BN_free(bn);
	BN_free(lim);
	return r;
}

/* "0x" and an even number of hex digits (either case), into a malloc'd
 * buffer (never NULL on success). */
static pv_err
get_hex(struct e712 *e, const cJSON *v, uint8_t **out, size_t *len)
{
	const char *s;
	size_t n;

	*out = NULL;
	*len = 0;
	if (!cJSON_IsString(v) || v->valuestring[0] != '0' || v->valuestring[1] != 'x')
		return bad(e, "bytes are a string of 0x and hex digits");
	s = v->valuestring + 2;
	n = strlen(s);
	if ((*out = malloc(n / 2 + 1)) == NULL)
		return PV_ERR_NOMEM;
	if (pv_hex_decode(s, n, *out, n / 2, len) != PV_OK) {
		free(*out);
		*out = NULL;
		return bad(e, "bytes are a string of 0x and an even number of hex digits");
	}
	return PV_OK;
}

static pv_err hash_struct(struct e712 *e, size_t ti, const cJSON *v, uint8_t out[32]);

/* enc(value) of EIP-712's encodeData: 32 bytes for a value of type ft with
 * its first ndims dimensions. */
static pv_err
enc_value(struct e712 *e, const struct ftype *ft, unsigned ndims, const cJSON *v, uint8_t out[32])
{
	uint8_t addr[PV_EVM_ADDR_LEN], el[32], *bytes = NULL;
	pv_keccak_ctx k;
	const cJSON *c;
	size_t n, at;
	pv_err r = PV_OK;

	memset(out, 0, 32);
	if (ndims > 0) {
		/* keccak256 of the elements' encodings, one after the other */
		if (!cJSON_IsArray(v))
			return bad(e, "not an array");
		n = (size_t)cJSON_GetArraySize(v);
		if (ft->dims[ndims - 1] != 0 && n != ft->dims[ndims - 1])
			return bad(e, "array of %zu elements; the type says %zu", n, ft->dims[ndims - 1]);
		pv_keccak256_init(&k, PV_KECCAK_PAD_KECCAK);
		for (n = 0, c = v->child; c != NULL; c = c->next, n++) {
			at = path_push(e, "[%zu]", n);
			if ((r = enc_value(e, ft, ndims - 1, c, el)) != PV_OK)
				break;
			path_pop(e, at);
			pv_keccak256_update(&k, el, sizeof(el));
		}
		pv_keccak256_final(&k, out);
		return r;
	}
	switch (ft->kind) {
	case K_STRUCT:
		return hash_struct(e, ft->st, v, out);
	case K_UINT:
	case K_INT:
		return enc_integer(e, ft, v, out);
	case K_ADDRESS:
		if (!cJSON_IsString(v))
			return bad(e, "an address is a string");
		if (pv_evm_address_parse(v->valuestring, addr) != PV_OK)
			return bad(e, "%s", pv_err_detail());
		memcpy(out + 32 - PV_EVM_ADDR_LEN, addr, PV_EVM_ADDR_LEN);
		return PV_OK;
	case K_BOOL:
		if (!cJSON_IsBool(v))
			return bad(e, "a bool is true or false");
		out[31] = cJSON_IsTrue(v) ? 1 : 0;
		return PV_OK;
	case K_BYTESN:
	case K_BYTES:
		if ((r = get_hex(e, v, &bytes, &n)) != PV_OK)
			return r;
		if (ft->kind == K_BYTES) {
			pv_keccak256(bytes, n, out);
		} else if (n != ft->width) {
			r = bad(e, "%zu bytes for bytes%u", n, ft->width);
		} else {
			memcpy(out, bytes, n); /* right-padded with zeros */
		}
		free(bytes);
		return r;
	case K_STRING:
		if (!cJSON_IsString(v))
			return bad(e, "a string is a JSON string");
		pv_keccak256((const uint8_t *)v->valuestring, strlen(v->valuestring), out);
		return PV_OK;
	}
	return PV_ERR_INTERNAL;
}

/* hashStruct: keccak256(typeHash || enc(field 1) || ...); the value must
 * have exactly the type's fields. */
static pv_err
hash_struct(struct e712 *e, size_t ti, const cJSON *v, uint8_t out[32])
{
	const struct stype *st = &e->types[ti];
	const uint8_t *th = NULL;
	uint8_t el[32];
	pv_keccak_ctx k;
	const cJSON *c;
	size_t i, at;
	pv_err r;

	if (!cJSON_IsObject(v))
		return bad(e, "not an object (a %s)", st->name);
	for (c = v->child; c != NULL; c = c->next) {
		for (i = 0; i < st->nfields && strcmp(st->fields[i].name, c->string) != 0; i++)
			;
		if (i == st->nfields) {
			const char *shown = pv_json_shown_name(c->string);

			return bad(e, "member %s is not a field of %s", shown != NULL ? shown : "(not shown)",
				   st->name);
		}
	}
	if ((r = type_hash(e, ti, &th)) != PV_OK)
		return r;
	pv_keccak256_init(&k, PV_KECCAK_PAD_KECCAK);
	pv_keccak256_update(&k, th, 32);
	for (i = 0; i < st->nfields; i++) {
		if ((c = cJSON_GetObjectItemCaseSensitive(v, st->fields[i].name)) == NULL) {
			r = bad(e, "field %s of %s is missing", st->fields[i].name, st->name);
			break;
		}
		at = path_push(e, ".%s", st->fields[i].name);
		if ((r = enc_value(e, &st->fields[i].ft, st->fields[i].ft.ndims, c, el)) != PV_OK)
			break;
		path_pop(e, at);
		pv_keccak256_update(&k, el, sizeof(el));
	}
	pv_keccak256_final(&k, out);
	return r;
}

static void
e712_free(struct e712 *e)
{
	size_t i;

	if (e == NULL)
		return;
	for (i = 0; i < e->ntypes; i++)
		free(e->types[i].fields);
	free(e);
}

/* Checks on the text (before cJSON, which cannot see them), then parse. */
static pv_err
parse_text(const uint8_t *json, size_t len, cJSON **doc)
{
	const char *end = NULL;
	size_t i;
	pv_err r = PV_OK;

	*doc = NULL;
	if (json == NULL)
		return PV_ERR_USAGE;
	if (len > PV_EIP712_MAX) {
		pv_err_set_detail("eip712: the typed data is over %d bytes", PV_EIP712_MAX);
		return PV_ERR_TOO_LARGE;
	}
	if (memchr(json, '\0', len) != NULL || pv_json_has_nul_escape(json, len))
		return bad(NULL, "the typed data contains a NUL character");
	if (!pv_utf8_valid(json, len))
		return bad(NULL, "the typed data is not valid UTF-8");
	if ((*doc = cJSON_ParseWithLengthOpts((const char *)json, len, &end, 0)) == NULL)
		return bad(NULL, "the typed data is not JSON");
	for (i = (size_t)(end - (const char *)json); i < len; i++) {
		if (json[i] != ' ' && json[i] != '\t' && json[i] != '\r' && json[i] != '\n') {
			r = bad(NULL, "bytes after the JSON object");
			cJSON_Delete(*doc);
			*doc = NULL;
			break;
		}
	}
	return r;
}

/* Check the document: everything but the values. */
static pv_err
e712_load(const cJSON *doc, struct e712 **out)
{
	static const char *const members[] = {"types", "primaryType", "domain", "message"};
	struct e712 *e = NULL;
	const cJSON *c, *pt;
	size_t i;
	pv_err r;

	*out = NULL;
	if ((e = calloc(1, sizeof(*e))) == NULL)
		return PV_ERR_NOMEM;
	e->doc = doc;
	if (!cJSON_IsObject(doc)) {
		r = bad(e, "the typed data is not a JSON object");
		goto out;
	}
	/* the message of a type PV_EIP712_MAX_DEPTH high is that deep, and
	 * its atomic values one more */
	if ((r = pv_json_check_tree(doc, PV_EIP712_MAX_DEPTH + 1, "the typed data")) != PV_OK) {
		if (r == PV_ERR_BAD_INPUT)
			(void)bad(e, "%s", pv_err_detail());
		goto out;
	}
	for (c = doc->child; c != NULL; c = c->next) {
		for (i = 0; i < PV_NELEM(members) && strcmp(members[i], c->string) != 0; i++)
			;
		if (i == PV_NELEM(members)) {
			const char *shown = pv_json_shown_name(c->string);

			r = bad(e, "member %s is not one of types, primaryType, domain, message",
				shown != NULL ? shown : "(not shown)");
			goto out;
		}
	}
	for (i = 0; i < PV_NELEM(members); i++) {
		if (cJSON_GetObjectItemCaseSensitive(doc, members[i]) == NULL) {
			r = bad(e, "member %s is missing", members[i]);
			goto out;
		}
	}
	if ((r = load_types(e, cJSON_GetObjectItemCaseSensitive(doc, "types"))) != PV_OK)
		goto out;
	pt = cJSON_GetObjectItemCaseSensitive(doc, "primaryType");
	if (!cJSON_IsString(pt) || !find_type(e, pt->valuestring, strlen(pt->valuestring), &e->primary)) {
		r = bad(e, "primaryType is not the name of one of the types");
		goto out;
	}
	/* eth-sig-util would sign keccak256(0x1901 || domainSeparator) alone:
	 * no message, and ethers cannot verify it */
	if (e->primary == e->domain) {
		r = bad(e, "primaryType %s (signing the domain alone) is not supported", DOMAIN_TYPE);
		goto out;
	}
	*out = e;
	e = NULL;
	r = PV_OK;
out:
	e712_free(e);
	return r;
}

/* domain.chainId, already checked as a uint256 by the domain's hash. */
static pv_err
domain_chain_id(struct e712 *e, struct pv_eip712_hashes *h)
{
	static const struct ftype u256 = {.kind = K_UINT, .width = 256};
	const cJSON *v =
	    cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(e->doc, "domain"), "chainId");
	uint8_t be[32];
	size_t i;
	pv_err r;

	if (v == NULL)
		return PV_OK;
	if ((r = enc_integer(e, &u256, v, be)) != PV_OK)
		return r;
	h->has_chain_id = 1;
	for (i = 0; i < 24 && be[i] == 0; i++)
		;
	if (i < 24)
		return PV_OK;
	h->chain_id_fits = 1;
	for (i = 24; i < 32; i++)
		h->chain_id = h->chain_id << 8 | be[i];
	return PV_OK;
}

/* hashStruct of the top-level member name (domain, message) as type ti. */
static pv_err
hash_member(struct e712 *e, const char *name, size_t ti, uint8_t out[32])
{
	size_t at = path_push(e, "%s", name);
	pv_err r;

	if ((r = hash_struct(e, ti, cJSON_GetObjectItemCaseSensitive(e->doc, name), out)) == PV_OK)
		path_pop(e, at);
	return r;
}

pv_err
pv_eip712_hash_json(const cJSON *doc, struct pv_eip712_hashes *out)
{
	struct e712 *e = NULL;
	uint8_t pre[2 + 32 + 32];
	pv_err r;

	memset(out, 0, sizeof(*out));
	if ((r = e712_load(doc, &e)) != PV_OK)
		goto out;
	if ((r = hash_member(e, "domain", e->domain, out->domain_separator)) != PV_OK ||
	    (r = domain_chain_id(e, out)) != PV_OK ||
	    (r = hash_member(e, "message", e->primary, out->message_hash)) != PV_OK)
		goto out;
	pre[0] = 0x19;
	pre[1] = 0x01;
	memcpy(pre + 2, out->domain_separator, 32);
	memcpy(pre + 34, out->message_hash, 32);
	pv_keccak256(pre, sizeof(pre), out->digest);
out:
	if (r != PV_OK)
		memset(out, 0, sizeof(*out));
	e712_free(e);
	return r;
}

pv_err
pv_eip712_hash(const uint8_t *json, size_t len, struct pv_eip712_hashes *out)
{
	cJSON *doc = NULL;
	pv_err r;

	memset(out, 0, sizeof(*out));
	if ((r = parse_text(json, len, &doc)) != PV_OK)
		goto out;
	r = pv_eip712_hash_json(doc, out);
out:
	cJSON_Delete(doc);
	return r;
}

pv_err
pv_eip712_encode_type(const uint8_t *json, size_t len, const char *type, char **out)
{
	struct pv_eip712_hashes h;
	struct e712 *e = NULL;
	cJSON *doc = NULL;
	size_t ti;
	pv_err r;

	*out = NULL;
	if ((r = parse_text(json, len, &doc)) != PV_OK || (r = pv_eip712_hash_json(doc, &h)) != PV_OK ||
	    (r = e712_load(doc, &e)) != PV_OK)
		goto out;
	if (!find_type(e, type, strlen(type), &ti)) {
		pv_err_set_detail("eip712: no such type");
		r = PV_ERR_NOT_FOUND;
		goto out;
	}
	r = encode_type(e, ti, out);
out:
	e712_free(e);
	cJSON_Delete(doc);
	return r;
}
