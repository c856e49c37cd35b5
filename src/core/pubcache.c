#include "config.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/keymeta.h"
#include "core/pubcache.h"

struct pub_entry {
	char name[PV_KEY_NAME_MAX + 1];
	unsigned version;
	uint8_t id[PV_KEY_ID_MAX];
	size_t id_len;
	EVP_PKEY *pk;
};

struct pv_pubcache {
	pthread_mutex_t mu;
	struct pub_entry e[PV_PUBCACHE_MAX];
	size_t n;
};

pv_err
pv_pubcache_new(struct pv_pubcache **out)
{
	struct pv_pubcache *c = NULL;

	*out = NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return PV_ERR_NOMEM;
	if (pthread_mutex_init(&c->mu, NULL) != 0) {
		free(c);
		return PV_ERR_INTERNAL;
	}
	*out = c;
	return PV_OK;
}

static void
clear_locked(struct pv_pubcache *c)
{
	size_t i;

	for (i = 0; i < c->n; i++)
		EVP_PKEY_free(c->e[i].pk);
	memset(c->e, 0, sizeof(c->e));
	c->n = 0;
}

void
pv_pubcache_clear(struct pv_pubcache *c)
{
	if (c == NULL)
		return;
	pthread_mutex_lock(&c->mu);
	clear_locked(c);
	pthread_mutex_unlock(&c->mu);
}

void
pv_pubcache_free(struct pv_pubcache *c)
{
	if (c == NULL)
		return;
	clear_locked(c);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

static int
matches(const struct pub_entry *e, const char *name, unsigned version, const uint8_t *id, size_t id_len)
{
	return e->version == version && e->id_len == id_len && memcmp(e->id, id, id_len) == 0 &&
	       strcmp(e->name, name) == 0;
}

EVP_PKEY *
pv_pubcache_get(struct pv_pubcache *c, const char *name, unsigned version, const uint8_t *id, size_t id_len)
{
	EVP_PKEY *pk = NULL;
	size_t i;

	if (c == NULL || id_len == 0 || id_len > PV_KEY_ID_MAX)
		return NULL;
	pthread_mutex_lock(&c->mu);
	for (i = 0; i < c->n; i++) {
		if (matches(&c->e[i], name, version, id, id_len)) {
			if (EVP_PKEY_up_ref(c->e[i].pk) == 1)
				pk = c->e[i].pk;
			break;
		}
	}
	pthread_mutex_unlock(&c->mu);
	return pk;
}

void
pv_pubcache_put(struct pv_pubcache *c, const char *name, unsigned version, const uint8_t *id, size_t id_len,
		EVP_PKEY *pk)
{
	struct pub_entry *e;
	size_t i;

	if (c == NULL || pk == NULL || id_len == 0 || id_len > PV_KEY_ID_MAX ||
	    strlen(name) > PV_KEY_NAME_MAX)
		return;
	pthread_mutex_lock(&c->mu);
	for (i = 0; i < c->n; i++)
		if (matches(&c->e[i], name, version, id, id_len))
			goto out; /* another thread was first */
	if (c->n == PV_PUBCACHE_MAX)
		clear_locked(c);
	if (EVP_PKEY_up_ref(pk) != 1)
		goto out;
	e = &c->e[c->n++];
	memcpy(e->name, name, strlen(name) + 1);
	e->version = version;
	memcpy(e->id, id, id_len);
	e->id_len = id_len;
	e->pk = pk;
out:
	pthread_mutex_unlock(&c->mu);
}
